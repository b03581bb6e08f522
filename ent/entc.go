//go:build ignore

// Command entc generates the Ent client and the entgql GraphQL schema (schema/ent.graphqls).
// Run it through `make generate`.
package main

import (
	"errors"
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./schema/ent.graphqls"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(nodesIDsPerItem),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureIntercept,
			gen.FeatureLock,
			gen.FeatureUpsert,
			gen.FeatureVersionedMigration,
			gen.FeatureGlobalID,
			gen.FeatureNamedEdges,
			gen.FeatureModifier,
			gen.FeatureExecQuery,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// nodesIDsPerItem marks the ids of nodes(ids:) with @idsPerItem (schema/common.graphqls),
// so one malformed id nulls only its own item rather than the whole list.
func nodesIDsPerItem(_ *gen.Graph, s *ast.Schema) error {
	var arg *ast.ArgumentDefinition
	if q := s.Types["Query"]; q != nil {
		if f := q.Fields.ForName("nodes"); f != nil {
			arg = f.Arguments.ForName("ids")
		}
	}
	if arg == nil {
		return errors.New("entgql generated no Query.nodes(ids:)")
	}
	arg.Directives = append(arg.Directives, &ast.Directive{Name: "idsPerItem", Location: ast.LocationArgumentDefinition})
	return nil
}
