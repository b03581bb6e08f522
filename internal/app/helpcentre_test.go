package app_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/xiadan/xiadan/ent/auditlog"
	"github.com/xiadan/xiadan/ent/helparticlevote"
	"github.com/xiadan/xiadan/internal/apitest"
)

const articleMutation = `mutation($i: HelpArticleInput!) { createHelpArticle(input: $i) { id slug status publishedAt } }`

func createArticle(t *testing.T, s *apitest.Server, token string, input map[string]any) string {
	t.Helper()
	r := s.MustQuery(token, articleMutation, map[string]any{"i": input})
	var out struct{ CreateHelpArticle struct{ ID string } }
	r.Decode(t, &out)
	return out.CreateHelpArticle.ID
}

func searchTitles(t *testing.T, s *apitest.Server, token, q string, locale any) []string {
	t.Helper()
	r := s.MustQuery(token, `query($q: String!, $l: HelpLocale) { searchHelp(query: $q, locale: $l) { title } }`,
		map[string]any{"q": q, "l": locale})
	var out struct{ SearchHelp []struct{ Title string } }
	r.Decode(t, &out)
	titles := make([]string, len(out.SearchHelp))
	for i, a := range out.SearchHelp {
		titles[i] = a.Title
	}
	return titles
}

// Admins write the help centre (audited; others are FORBIDDEN); the public reads published
// articles only; search finds Chinese and English text; votes are one per reader and
// changeable.
func TestHelpCentreOverGraphQL(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, s *apitest.Server) {
		admin := s.NewAdmin(t, "help-admin@example.com")
		reader := s.Register("reader@example.com", "Reader")

		catMutation := `mutation($i: HelpCategoryInput!) { createHelpCategory(input: $i) { id slug position } }`
		wantCode(t, "customer writes", s.Query(reader.AccessToken, catMutation, map[string]any{"i": map[string]any{
			"slug": "x", "nameZh": "x", "nameEn": "x"}}), "FORBIDDEN", "")
		r := s.MustQuery(admin.AccessToken, catMutation, map[string]any{"i": map[string]any{
			"slug": "after-sales", "nameZh": "售后服务", "nameEn": "After-sales", "position": 2}})
		var cat struct{ CreateHelpCategory struct{ ID string } }
		r.Decode(t, &cat)
		s.MustQuery(admin.AccessToken, catMutation, map[string]any{"i": map[string]any{"slug": "account", "nameZh": "账号", "nameEn": "Account", "position": 1}})
		wantCode(t, "duplicate category", s.Query(admin.AccessToken, catMutation, map[string]any{"i": map[string]any{
			"slug": "account", "nameZh": "x", "nameEn": "x"}}), "CONFLICT", "slug")
		wantCode(t, "bad slug", s.Query(admin.AccessToken, catMutation, map[string]any{"i": map[string]any{
			"slug": "Not A Slug", "nameZh": "x", "nameEn": "x"}}), "BAD_USER_INPUT", "slug")

		catID := cat.CreateHelpCategory.ID

		// Updating a category: admins only, its slug stays unique and well-formed, an unknown
		// id is NOT_FOUND, and a good update is audited.
		updQ := `mutation($id: ID!, $i: HelpCategoryInput!) { updateHelpCategory(id: $id, input: $i) { slug nameEn position } }`
		upd := func(token, id string, in map[string]any) *apitest.Response {
			return s.Query(token, updQ, map[string]any{"id": id, "i": in})
		}
		good := map[string]any{"slug": "after-sales", "nameZh": "售后服务", "nameEn": "After-sales service", "position": 3}
		wantCode(t, "customer updates a category", upd(reader.AccessToken, catID, good), "FORBIDDEN", "")
		wantCode(t, "anonymous updates a category", upd("", catID, good), "UNAUTHENTICATED", "")
		wantCode(t, "update takes another's slug", upd(admin.AccessToken, catID, map[string]any{"slug": "account", "nameZh": "x", "nameEn": "x"}), "CONFLICT", "slug")
		wantCode(t, "update with a bad slug", upd(admin.AccessToken, catID, map[string]any{"slug": "Not A Slug", "nameZh": "x", "nameEn": "x"}), "BAD_USER_INPUT", "slug")
		wantCode(t, "update an unknown category", upd(admin.AccessToken, "999999", good), "NOT_FOUND", "id")
		if r := upd(admin.AccessToken, catID, good); len(r.Errors) > 0 || !r.Contains(`"nameEn":"After-sales service","position":3`) {
			t.Fatalf("update a category: %s", r.Raw)
		}
		{
			client, ctx := s.Client()
			if n := client.AuditLog.Query().Where(auditlog.Action("help.category.update")).CountX(ctx); n != 1 {
				t.Errorf("%d audit entries for category updates, want 1", n)
			}
		}
		zh := createArticle(t, s, admin.AccessToken, map[string]any{"categoryID": catID, "slug": "refund", "locale": "zh_CN",
			"title": "如何申请退款", "body": "在订单详情页点击“申请售后”，选择仅退款或退货退款。", "status": "PUBLISHED"})
		en := createArticle(t, s, admin.AccessToken, map[string]any{"categoryID": catID, "slug": "refund", "locale": "en",
			"title": "How to request a refund", "body": "Open the order and choose **After-sales**.", "status": "PUBLISHED"})
		draft := createArticle(t, s, admin.AccessToken, map[string]any{"categoryID": catID, "slug": "refund-draft", "locale": "zh_CN",
			"title": "退款到账时间（草稿）", "body": "草稿", "status": "DRAFT"})
		createArticle(t, s, admin.AccessToken, map[string]any{"categoryID": catID, "slug": "shipping", "locale": "en",
			"title": "Shipping times", "body": "Most parcels arrive in three days.", "status": "PUBLISHED"})
		wantCode(t, "duplicate article slug", s.Query(admin.AccessToken, articleMutation, map[string]any{"i": map[string]any{
			"categoryID": catID, "slug": "refund", "locale": "en", "title": "x", "body": "x", "status": "DRAFT"}}), "CONFLICT", "slug")
		wantCode(t, "unknown category", s.Query(admin.AccessToken, articleMutation, map[string]any{"i": map[string]any{
			"categoryID": "999999", "slug": "y", "locale": "en", "title": "x", "body": "x", "status": "DRAFT"}}), "NOT_FOUND", "categoryID")

		// The public: published only, by category, by slug, by id.
		r = s.MustQuery("", `{ helpCategories { slug } helpArticles(locale: zh_CN) { id title } }`, nil)
		if !r.Contains(`"helpCategories":[{"slug":"account"},{"slug":"after-sales"}]`) || !r.Contains(zh) || r.Contains(draft) {
			t.Fatalf("public lists: %s", r.Raw)
		}
		r = s.MustQuery("", `{ helpArticle(slug: "refund-draft", locale: zh_CN) { id } a: helpArticle(slug: "refund", locale: en) { title category { slug } } }`, nil)
		if !r.Contains(`"helpArticle":null`) || !r.Contains(`"title":"How to request a refund","category":{"slug":"after-sales"}`) {
			t.Fatalf("by slug: %s", r.Raw)
		}
		if r := s.MustQuery("", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": draft}); !r.Contains(`"node":null`) {
			t.Fatalf("draft by node: %s", r.Raw)
		}
		if r := s.MustQuery(admin.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": draft}); !r.Contains(draft) {
			t.Fatalf("admin reads the draft: %s", r.Raw)
		}

		// Search in both languages; drafts never show.
		for _, c := range []struct {
			q      string
			locale any
			want   []string
		}{
			{"退款", nil, []string{"如何申请退款"}},
			{"申请退款", "zh_CN", []string{"如何申请退款"}},
			{"refunds", nil, []string{"How to request a refund"}},
			{"Refund", "zh_CN", []string{}},
			{"parcel", "en", []string{"Shipping times"}},
			{"售后", nil, []string{"如何申请退款"}},
			{"！！", nil, []string{}},
		} {
			if got := searchTitles(t, s, "", c.q, c.locale); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("search %q (%v): %v, want %v", c.q, c.locale, got, c.want)
			}
		}
		wantCode(t, "search first 0", s.Query("", `{ searchHelp(query: "x", first: 0) { id } }`, nil), "BAD_USER_INPUT", "first")

		// Updating re-indexes: the English article is found by its new word.
		s.MustQuery(admin.AccessToken, `mutation($id: ID!, $i: HelpArticleInput!) { updateHelpArticle(id: $id, input: $i) { id } }`,
			map[string]any{"id": en, "i": map[string]any{"categoryID": catID, "slug": "refund", "locale": "en",
				"title": "How to request a refund or return", "body": "Open the order and choose After-sales.", "status": "PUBLISHED"}})
		if got := searchTitles(t, s, "", "return", "en"); len(got) != 1 {
			t.Fatalf("after update: %v", got)
		}

		// Votes: one per reader, changeable; anonymous readers name a visitor id.
		vote := `mutation($id: ID!, $h: Boolean!, $v: String) { voteHelpArticle(id: $id, helpful: $h, visitorID: $v) { helpfulCount notHelpfulCount } }`
		wantCode(t, "anonymous without visitor", s.Query("", vote, map[string]any{"id": zh, "h": true}), "BAD_USER_INPUT", "visitorID")
		wantCode(t, "bad visitor", s.Query("", vote, map[string]any{"id": zh, "h": true, "v": "x"}), "BAD_USER_INPUT", "visitorID")
		wantCode(t, "vote on a draft", s.Query(reader.AccessToken, vote, map[string]any{"id": draft, "h": true}), "NOT_FOUND", "id")
		for _, step := range []struct {
			token, visitor string
			helpful        bool
			want           string
		}{
			{reader.AccessToken, "", true, `{"helpfulCount":1,"notHelpfulCount":0}`},
			{reader.AccessToken, "", true, `{"helpfulCount":1,"notHelpfulCount":0}`},
			{"", "visitor-0001", false, `{"helpfulCount":1,"notHelpfulCount":1}`},
			{reader.AccessToken, "", false, `{"helpfulCount":0,"notHelpfulCount":2}`},
			{"", "visitor-0001", true, `{"helpfulCount":1,"notHelpfulCount":1}`},
		} {
			vars := map[string]any{"id": zh, "h": step.helpful}
			if step.visitor != "" {
				vars["v"] = step.visitor
			}
			if r := s.MustQuery(step.token, vote, vars); !r.Contains(step.want) {
				t.Fatalf("vote %+v: %s", step, r.Raw)
			}
		}

		// A category with articles stays; deletions are audited.
		wantCode(t, "delete non-empty category", s.Query(admin.AccessToken, `mutation($id: ID!) { deleteHelpCategory(id: $id) }`,
			map[string]any{"id": catID}), "INVALID_STATE", "")
		s.MustQuery(admin.AccessToken, `mutation($id: ID!) { deleteHelpArticle(id: $id) }`, map[string]any{"id": zh})
		client, ctx := s.Client()
		n, _ := strconv.Atoi(zh)
		if c, _ := client.HelpArticleVote.Query().Where(helparticlevote.ArticleID(n)).Count(ctx); c != 0 {
			t.Fatalf("votes left: %d", c)
		}
		logged, err := client.AuditLog.Query().Where(auditlog.ActionHasPrefix("help.")).Count(ctx)
		if err != nil || logged != 2+1+4+1+1 { // categories, the update, articles, …
			t.Fatalf("audit entries: %d %v", logged, err)
		}
	})
}

// Readers voting on one article at once, and one reader changing their vote twice at once,
// over HTTP: the counters always equal the votes.
func TestHelpVotesRaceOverHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range apitest.RaceDialects() {
		t.Run(d.Name, func(t *testing.T) {
			s := apitest.New(t, d.URL(t))
			admin := s.NewAdmin(t, "vote-admin@example.com")
			r := s.MustQuery(admin.AccessToken, `mutation { createHelpCategory(input: {slug: "faq", nameZh: "常见问题", nameEn: "FAQ"}) { id } }`, nil)
			var cat struct{ CreateHelpCategory struct{ ID string } }
			r.Decode(t, &cat)
			id := createArticle(t, s, admin.AccessToken, map[string]any{"categoryID": cat.CreateHelpCategory.ID, "slug": "faq",
				"locale": "zh_CN", "title": "常见问题", "body": "问答", "status": "PUBLISHED"})
			vote := `mutation($id: ID!, $h: Boolean!, $v: String) { voteHelpArticle(id: $id, helpful: $h, visitorID: $v) { id } }`
			readers := make([]apitest.Session, 4)
			for i := range readers {
				readers[i] = s.Register(fmt.Sprintf("voter%d@example.com", i), "Voter")
			}
			client, ctx := s.Client()
			n, _ := strconv.Atoi(id)
			for round := range 3 {
				var racers []apitest.Racer
				for i, rd := range readers {
					racers = append(racers, s.Request(rd.AccessToken, vote, map[string]any{"id": id, "h": (i+round)%2 == 0}))
				}
				for _, h := range []bool{true, false} {
					racers = append(racers, s.Request("", vote, map[string]any{"id": id, "h": h, "v": "same-visitor-1"}))
				}
				if ok := apitest.Successes(t, "votes", apitest.Race(racers...)); ok != len(racers) {
					t.Fatalf("round %d: %d of %d votes succeeded", round, ok, len(racers))
				}
				a, err := client.HelpArticle.Get(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				yes, _ := client.HelpArticleVote.Query().Where(helparticlevote.ArticleID(n), helparticlevote.Helpful(true)).Count(ctx)
				no, _ := client.HelpArticleVote.Query().Where(helparticlevote.ArticleID(n), helparticlevote.Helpful(false)).Count(ctx)
				if yes+no != 5 || a.HelpfulCount != yes || a.NotHelpfulCount != no {
					t.Fatalf("round %d: counters %d/%d, votes %d/%d", round, a.HelpfulCount, a.NotHelpfulCount, yes, no)
				}
			}
		})
	}
}
