package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/xiadan/xiadan/graph"
	"github.com/xiadan/xiadan/internal/apitest"
	"github.com/xiadan/xiadan/internal/playground"
	"github.com/xiadan/xiadan/internal/seed"
)

// The walkthroughs a newcomer follows — the playground's example tabs and docs/CHECKOUT.md
// — run here as written, one operation after another, against the seeded demo on every
// dialect. Ids come only from earlier answers, as the reader's do.

const (
	demoCustomer = "xiaoming@demo.xiadan.dev"
	demoMerchant = "owner.tea-house@demo.xiadan.dev"
)

func TestDemoWalkthroughs(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialectReachable(t, func(t *testing.T, s *apitest.Server) {
		client, ctx := s.Client()
		if _, err := seed.Demo(ctx, client, seed.Options{Password: apitest.Password}); err != nil {
			t.Fatalf("seeding the demo: %v", err)
		}
		// One after the other: both act on the demo merchant's paid orders.
		t.Run("PlaygroundExamples", func(t *testing.T) { runPlaygroundExamples(t, s) })
		t.Run("CheckoutGuide", func(t *testing.T) { runCheckoutGuide(t, s) })
	})
}

// valueAt mirrors valueAt of internal/playground/web/src/main.jsx: names and list indexes
// joined by dots; "?field" is the first element whose field is true.
func valueAt(data any, path string) any {
	cur := data
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			if f, ok := strings.CutPrefix(part, "?"); ok {
				cur = nil
				for _, x := range c {
					if m, ok := x.(map[string]any); ok && m[f] == true {
						cur = m
						break
					}
				}
				continue
			}
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// demoAnswer runs one operation of doc and fails the test on any error; it returns data.
func demoAnswer(t *testing.T, s *apitest.Server, token, doc, op string, vars map[string]any) map[string]any {
	t.Helper()
	r := s.Do(apitest.Request{Query: doc, OperationName: op, Variables: vars, Token: token})
	if len(r.Errors) > 0 || r.Status != 200 {
		t.Fatalf("%s answered %d with errors: %s\nvariables: %v", op, r.Status, r.Raw, vars)
	}
	var data map[string]any
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return data
}

func demoOperations(t *testing.T, doc string) []*ast.OperationDefinition {
	t.Helper()
	q, err := gqlparser.LoadQuery(graph.NewSchema(&graph.Resolver{}).Schema(), doc)
	if err != nil {
		t.Fatalf("invalid against the schema: %v\n%s", err, doc)
	}
	return q.Operations
}

// demoExpect checks a value of an answer.
func demoExpect(t *testing.T, op string, data map[string]any, path string, want any) {
	t.Helper()
	if got := valueAt(data, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: %s = %v, want %v", op, path, got, want)
	}
}

func runPlaygroundExamples(t *testing.T, s *apitest.Server) {
	token := "" // the session: the last sign-in's token, sent by every tab
	ran := map[string]map[string]any{}
	for _, tab := range playground.DefaultExamples() {
		vars := map[string]any{}
		if tab.Variables != "" {
			text := strings.ReplaceAll(tab.Variables, playground.PasswordPlaceholder, apitest.Password)
			if err := json.Unmarshal([]byte(text), &vars); err != nil {
				t.Fatalf("%s: variables: %v", tab.Name, err)
			}
		}
		for _, op := range demoOperations(t, tab.Query) {
			// Subscriptions are run by the subscription tests; the email code is in a mailbox.
			if op.Operation == ast.Subscription || op.Name == "VerifyEmail" {
				continue
			}
			// The IDE sends the tab's whole variables object with every operation.
			data := demoAnswer(t, s, token, tab.Query, op.Name, vars)
			ran[op.Name] = data
			for _, v := range data {
				if m, ok := v.(map[string]any); ok {
					if tok, ok := m["accessToken"].(string); ok && tok != "" {
						token = tok
					}
				}
			}
			for name, path := range tab.Captures {
				if _, ok := vars[name]; !ok {
					continue
				}
				if v := valueAt(data, path); v != nil {
					vars[name] = v
				}
			}
		}
	}
	demoExpect(t, "WhoAmI", ran["WhoAmI"], "me.email", demoCustomer)
	demoExpect(t, "Search", ran["Search"], "products.edges.0.node.merchant.slug", "tea-house")
	demoExpect(t, "MyOrder", ran["MyOrder"], "order.status", "PAID")
	demoExpect(t, "SignInAsMerchant", ran["SignInAsMerchant"], "login.user.email", demoMerchant)
	demoExpect(t, "AcceptOrder", ran["AcceptOrder"], "acceptOrder.status", "ACCEPTED")
	demoExpect(t, "ShipOrder", ran["ShipOrder"], "shipOrder.order.status", "SHIPPED")
	demoExpect(t, "OrderTimeline", ran["OrderTimeline"], "order.status", "SHIPPED")
	if n := valueAt(ran["OrdersToAccept"], "merchantOrders.totalCount"); n == nil || n.(float64) < 2 {
		t.Errorf("OrdersToAccept: %v paid orders, want the demo's and the one just placed", n)
	}
}

var guideBlock = regexp.MustCompile("(?s)```graphql\n(.*?)```")

// guideCaptures are where the guide tells the reader to take each id from.
var guideCaptures = map[string]string{
	"variantID":  "products.edges.0.node.variants.?available.id",
	"checkoutID": "placeOrder.checkoutID",
	"orderID":    "placeOrder.orders.0.id",
	"paymentID":  "payOrder.id",
	"shipmentID": "shipOrder.id",
}

func runCheckoutGuide(t *testing.T, s *apitest.Server) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "CHECKOUT.md"))
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	vars := map[string]any{"password": apitest.Password}
	ran := map[string]map[string]any{}
	steps := 0
	for _, m := range guideBlock.FindAllStringSubmatch(string(b), -1) {
		doc := m[1]
		ops := demoOperations(t, doc) // every block is valid, run or not
		first, _, _ := strings.Cut(doc, "\n")
		var who string
		switch {
		case strings.HasPrefix(first, "# As the customer"):
			who = "customer"
		case strings.HasPrefix(first, "# As the merchant"):
			who = "merchant"
		case strings.HasPrefix(first, "# Anyone"):
		default:
			continue
		}
		if len(ops) != 1 {
			t.Fatalf("a block to run has %d operations, want one:\n%s", len(ops), doc)
		}
		op := ops[0]
		steps++
		if op.Name == "SignIn" { // "as each of them"
			for who, email := range map[string]string{"customer": demoCustomer, "merchant": demoMerchant} {
				data := demoAnswer(t, s, "", doc, op.Name, map[string]any{"email": email, "password": apitest.Password})
				tokens[who], _ = valueAt(data, "login.accessToken").(string)
			}
			continue
		}
		// What the reader types: the time of a scan; every id comes from an earlier answer.
		vars["occurredAt"] = time.Now().UTC().Format(time.RFC3339)
		given := map[string]any{}
		for _, v := range op.VariableDefinitions {
			x, ok := vars[v.Variable]
			if !ok {
				t.Fatalf("%s needs $%s, which no earlier step answered", op.Name, v.Variable)
			}
			given[v.Variable] = x
		}
		data := demoAnswer(t, s, tokens[who], doc, op.Name, given)
		ran[op.Name] = data
		for name, path := range guideCaptures {
			if v := valueAt(data, path); v != nil {
				vars[name] = v
			}
		}
	}
	if steps < 12 {
		t.Fatalf("ran %d steps of docs/CHECKOUT.md; its blocks lost their `# As …` first lines?", steps)
	}
	demoExpect(t, "PlaceOrder", ran["PlaceOrder"], "placeOrder.orders.0.status", "PENDING_PAYMENT")
	demoExpect(t, "MyOrder", ran["MyOrder"], "order.status", "PAID")
	demoExpect(t, "AcceptOrder", ran["AcceptOrder"], "acceptOrder.status", "ACCEPTED")
	demoExpect(t, "ShipOrder", ran["ShipOrder"], "shipOrder.order.status", "SHIPPED")
	demoExpect(t, "Delivered", ran["Delivered"], "addTrackingEvent.order.status", "DELIVERED")
	demoExpect(t, "Tracking", ran["Tracking"], "order.shipments.0.trackingEvents.1.status", "DELIVERED")
	demoExpect(t, "ConfirmReceipt", ran["ConfirmReceipt"], "confirmReceipt.status", "COMPLETED")
	demoExpect(t, "Refund", ran["Refund"], "refundOrder.status", "SUCCEEDED")
	demoExpect(t, "Timeline", ran["Timeline"], "order.status", "COMPLETED")
	if got, _ := valueAt(ran["Timeline"], "order.refundedAmount.formatted").(string); !strings.Contains(got, "10.00") {
		t.Errorf("Timeline: refundedAmount %q, want the 10.00 of the refund step", got)
	}
}
