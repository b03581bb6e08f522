package scalar

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/xiadan/xiadan/internal/apperror"
)

// MarshalUpload writes an Upload, which never happens: it is an input-only scalar.
func MarshalUpload(u graphql.Upload) graphql.ContextMarshaler {
	return contextMarshaler(graphql.MarshalUpload(u))
}

// UnmarshalUpload reads a file of the GraphQL multipart request spec, which the multipart
// transport has put in the variables; anything else (a string sent with JSON) is
// BAD_USER_INPUT naming the argument.
func UnmarshalUpload(ctx context.Context, v any) (graphql.Upload, error) {
	if u, ok := v.(graphql.Upload); ok {
		return u, nil
	}
	return graphql.Upload{}, apperror.BadInput(inputPath(ctx),
		"%s is not a file: send files with the GraphQL multipart request spec (docs/UPLOADS.md)", describe(v))
}
