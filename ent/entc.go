//go:build ignore

// Command entc generates the Ent client and the entgql GraphQL schema (schema/ent.graphqls).
// Run it through `make generate`.
package main

import (
	"errors"
	"fmt"
	"log"
	"strings"

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
		entgql.WithSchemaHook(nodesIDsPerItem, connectionsOfferNodes),
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
	}, entc.Extensions(ex), connectionTemplates)
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// connectionTemplates adds ent/template/pagination.tmpl after entgql's templates: its
// paginate helper replaces entgql's (a page is read for nodes and pageInfo too, so the
// cursors are set without edges) and every connection gets a Nodes method.
func connectionTemplates(cfg *gen.Config) error {
	t, err := gen.NewTemplate("xiadan_pagination").Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/pagination.tmpl")
	if err != nil {
		return err
	}
	cfg.Templates = append(cfg.Templates, t)
	return nil
}

// connectionsOfferNodes makes every generated connection's edges a non-null list of
// non-null edges and adds nodes, the same items without their cursors.
func connectionsOfferNodes(_ *gen.Graph, s *ast.Schema) error {
	for name, t := range s.Types {
		if t.Kind != ast.Object || !strings.HasSuffix(name, "Connection") {
			continue
		}
		edges := t.Fields.ForName("edges")
		if edges == nil || edges.Type.Elem == nil {
			return fmt.Errorf("connection %s has no edges list", name)
		}
		edgeType := s.Types[edges.Type.Elem.Name()]
		if edgeType == nil || edgeType.Fields.ForName("node") == nil {
			return fmt.Errorf("connection %s: no node on its edge type", name)
		}
		node := edgeType.Fields.ForName("node").Type.Name()
		edges.Type = ast.NonNullListType(ast.NonNullNamedType(edgeType.Name, nil), nil)
		if t.Fields.ForName("nodes") == nil {
			t.Fields = append(t.Fields, &ast.FieldDefinition{
				Name:        "nodes",
				Description: "The items of the page, without their cursors (the nodes of edges).",
				Type:        ast.NonNullListType(ast.NonNullNamedType(node, nil), nil),
			})
		}
	}
	return nil
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
