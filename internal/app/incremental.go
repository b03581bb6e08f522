package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A query with @defer is answered in parts by gqlgen: the initial result, then one
// result per deferred fragment. A client that accepts one JSON result (or one SSE "next")
// gets them merged into one, as if nothing had been deferred — the incremental-delivery
// RFC's rule for clients that do not ask for parts; multipart/mixed clients get the parts
// (multipart.go).

// collectIncremental reads every response of an operation and returns them as one.
func collectIncremental(ctx context.Context, responses graphql.ResponseHandler) *graphql.Response {
	first := responses(ctx)
	if first == nil {
		return &graphql.Response{Data: []byte("null")}
	}
	if first.HasNext == nil {
		return first
	}
	out := *first
	out.HasNext = nil
	for next := responses(ctx); next != nil; next = responses(ctx) {
		out.Errors = append(out.Errors, next.Errors...)
		merged, err := mergeAt(out.Data, next.Path, next.Data)
		if err != nil {
			// Only a bug of ours (or gqlgen's) gets here: say so rather than answer half.
			out.Errors = append(out.Errors, graphql.ErrorResponse(ctx, "internal error: a deferred result could not be merged: %v", err).Errors...)
			continue
		}
		out.Data = merged
		for k, v := range next.Extensions {
			if out.Extensions == nil {
				out.Extensions = map[string]any{}
			}
			out.Extensions[k] = v
		}
	}
	return &out
}

// member is one member of a JSON object, kept in order.
type member struct {
	key   string
	value json.RawMessage
}

// mergeAt returns data with the members of the object fields merged into the object at
// path. A null at the path (a null-bubbled fragment) leaves data as it is.
func mergeAt(data json.RawMessage, path ast.Path, fields json.RawMessage) (json.RawMessage, error) {
	if len(path) == 0 {
		if bytes.Equal(bytes.TrimSpace(data), []byte("null")) || bytes.Equal(bytes.TrimSpace(fields), []byte("null")) {
			return data, nil
		}
		into, err := objectMembers(data)
		if err != nil {
			return nil, err
		}
		add, err := objectMembers(fields)
		if err != nil {
			return nil, err
		}
	next:
		for _, m := range add {
			for i := range into {
				if into[i].key == m.key {
					// gqlgen writes a deferred field as null in the initial result; a field
					// selected both inside and outside the fragment merges deeper.
					merged, err := mergeAt(into[i].value, nil, m.value)
					if err != nil || bytes.Equal(bytes.TrimSpace(into[i].value), []byte("null")) {
						merged = m.value
					}
					into[i].value = merged
					continue next
				}
			}
			into = append(into, m)
		}
		return encodeObject(into), nil
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return data, nil
	}
	switch step := path[0].(type) {
	case ast.PathName:
		members, err := objectMembers(data)
		if err != nil {
			return nil, err
		}
		for i := range members {
			if members[i].key == string(step) {
				v, err := mergeAt(members[i].value, path[1:], fields)
				if err != nil {
					return nil, err
				}
				members[i].value = v
				return encodeObject(members), nil
			}
		}
		return nil, fmt.Errorf("no field %q", string(step))
	case ast.PathIndex:
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		if int(step) < 0 || int(step) >= len(items) {
			return nil, fmt.Errorf("no item %d", int(step))
		}
		v, err := mergeAt(items[step], path[1:], fields)
		if err != nil {
			return nil, err
		}
		items[step] = v
		return json.Marshal(items)
	}
	return nil, fmt.Errorf("unexpected path element %v", path[0])
}

// objectMembers splits a JSON object into its members, in order.
func objectMembers(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key, v})
	}
	return out, nil
}

// encodeObject writes members as a JSON object.
func encodeObject(members []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}
