// Package helpcentre keeps the help centre (issue #10 §4): categories and articles in
// Chinese and English written by admins (audited), read by everyone once published,
// found by keyword with the product search's tokenizer (internal/search: Latin words and
// CJK bigrams), and voted "was this helpful" once per reader, changeably.
package helpcentre

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/helparticle"
	"github.com/xiadan/xiadan/ent/helparticlevote"
	"github.com/xiadan/xiadan/ent/helpcategory"
	"github.com/xiadan/xiadan/ent/helpsearchtoken"
	"github.com/xiadan/xiadan/ent/translation"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/audit"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/slug"
	"github.com/xiadan/xiadan/internal/viewer"
)

// Limits of the help centre.
const (
	MaxArticlesListed = 200
	MaxSearchResults  = 50
	MaxTitleRunes     = 200
	MaxBodyRunes      = 50000
	MaxNameRunes      = 64
)

// CategoryInput is a category as an admin writes it.
type CategoryInput struct {
	Slug     string
	NameZh   string
	NameEn   string
	Position *int
}

// ArticleInput is an article as an admin writes it.
type ArticleInput struct {
	CategoryID int
	Slug       string
	Locale     helparticle.Locale
	Title      string
	Body       string
	Status     helparticle.Status
	Position   *int
}

// Service keeps the help centre.
type Service struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func text(field, v string, maxRunes int) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", apperror.BadInput(field, "must not be empty")
	case !utf8.ValidString(v):
		return "", apperror.BadInput(field, "is not valid UTF-8")
	case utf8.RuneCountInString(v) > maxRunes:
		return "", apperror.BadInput(field, "is longer than %d characters", maxRunes)
	}
	return v, nil
}

func (in CategoryInput) check() (CategoryInput, error) {
	var err error
	if !slug.Valid(in.Slug) || len(in.Slug) > 64 {
		return in, apperror.BadInput("slug", "use lower-case letters, digits and single hyphens (up to 64)")
	}
	if in.NameZh, err = text("nameZh", in.NameZh, MaxNameRunes); err != nil {
		return in, err
	}
	if in.NameEn, err = text("nameEn", in.NameEn, MaxNameRunes); err != nil {
		return in, err
	}
	return in, nil
}

func notFound(field, what string) error {
	e := apperror.NotFoundf("no such %s", what)
	e.Field = field
	return e
}

// CreateCategory adds a category (admins).
func (s *Service) CreateCategory(ctx context.Context, db *ent.Client, in CategoryInput) (*ent.HelpCategory, error) {
	in, err := in.check()
	if err != nil {
		return nil, err
	}
	if taken, err := db.HelpCategory.Query().Where(helpcategory.Slug(in.Slug)).Exist(ctx); err != nil || taken {
		if err == nil {
			err = apperror.ConflictOn("slug", "another category has this slug")
		}
		return nil, err
	}
	c, err := db.HelpCategory.Create().SetSlug(in.Slug).SetNameZh(in.NameZh).SetNameEn(in.NameEn).
		SetPosition(deref(in.Position)).SetCreatedAt(s.now()).Save(ctx)
	if err != nil {
		return nil, err
	}
	return c, audit.Record(ctx, db, audit.Entry{Action: "help.category.create", TargetType: "HelpCategory", TargetID: c.ID,
		Details: map[string]any{"slug": c.Slug}})
}

// UpdateCategory rewrites a category (admins).
func (s *Service) UpdateCategory(ctx context.Context, db *ent.Client, id int, in CategoryInput) (*ent.HelpCategory, error) {
	in, err := in.check()
	if err != nil {
		return nil, err
	}
	if _, err := db.HelpCategory.Get(ctx, id); err != nil {
		if ent.IsNotFound(err) {
			return nil, notFound("id", "category")
		}
		return nil, err
	}
	if taken, err := db.HelpCategory.Query().Where(helpcategory.Slug(in.Slug), helpcategory.IDNEQ(id)).Exist(ctx); err != nil || taken {
		if err == nil {
			err = apperror.ConflictOn("slug", "another category has this slug")
		}
		return nil, err
	}
	up := db.HelpCategory.UpdateOneID(id).SetSlug(in.Slug).SetNameZh(in.NameZh).SetNameEn(in.NameEn)
	if in.Position != nil {
		up.SetPosition(*in.Position)
	}
	c, err := up.Save(ctx)
	if err != nil {
		return nil, err
	}
	return c, audit.Record(ctx, db, audit.Entry{Action: "help.category.update", TargetType: "HelpCategory", TargetID: id,
		Details: map[string]any{"slug": c.Slug}})
}

// DeleteCategory removes an empty category (admins); one with articles is INVALID_STATE.
func (s *Service) DeleteCategory(ctx context.Context, db *ent.Client, id int) (int, error) {
	c, err := db.HelpCategory.Get(ctx, id)
	if ent.IsNotFound(err) {
		return 0, notFound("id", "category")
	}
	if err != nil {
		return 0, err
	}
	n, err := db.HelpArticle.Query().Where(helparticle.CategoryID(id)).Count(viewer.SystemContext(ctx))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		return 0, apperror.WrongState("NOT_EMPTY", "the category has %d articles; move or delete them first", n)
	}
	if _, err := db.Translation.Delete().Where(translation.EntityTypeEQ(translation.EntityTypeHELP_CATEGORY), translation.EntityIDEQ(id)).Exec(ctx); err != nil {
		return 0, err // its translations (internal/i18n)
	}
	if err := db.HelpCategory.DeleteOneID(id).Exec(ctx); err != nil {
		return 0, err
	}
	return id, audit.Record(ctx, db, audit.Entry{Action: "help.category.delete", TargetType: "HelpCategory", TargetID: id,
		Details: map[string]any{"slug": c.Slug}})
}

func (in ArticleInput) check(ctx context.Context, db *ent.Client) (ArticleInput, error) {
	var err error
	if !slug.Valid(in.Slug) || len(in.Slug) > 96 {
		return in, apperror.BadInput("slug", "use lower-case letters, digits and single hyphens")
	}
	if helparticle.LocaleValidator(in.Locale) != nil {
		return in, apperror.BadInput("locale", "is not a help-centre locale")
	}
	if helparticle.StatusValidator(in.Status) != nil {
		return in, apperror.BadInput("status", "is not an article status")
	}
	if in.Title, err = text("title", in.Title, MaxTitleRunes); err != nil {
		return in, err
	}
	if in.Body, err = text("body", in.Body, MaxBodyRunes); err != nil {
		return in, err
	}
	ok, err := db.HelpCategory.Query().Where(helpcategory.ID(in.CategoryID)).Exist(ctx)
	if err != nil {
		return in, err
	}
	if !ok {
		return in, notFound("categoryID", "category")
	}
	return in, nil
}

// CreateArticle adds an article and indexes it (admins).
func (s *Service) CreateArticle(ctx context.Context, db *ent.Client, in ArticleInput) (*ent.HelpArticle, error) {
	in, err := in.check(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := slugFree(ctx, db, in, 0); err != nil {
		return nil, err
	}
	now := s.now()
	c := db.HelpArticle.Create().SetCategoryID(in.CategoryID).SetSlug(in.Slug).SetLocale(in.Locale).
		SetTitle(in.Title).SetBody(in.Body).SetStatus(in.Status).SetPosition(deref(in.Position)).
		SetCreatedAt(now).SetUpdatedAt(now)
	if in.Status == helparticle.StatusPUBLISHED {
		c.SetPublishedAt(now)
	}
	a, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := index(ctx, db, a); err != nil {
		return nil, err
	}
	return a, audit.Record(ctx, db, audit.Entry{Action: "help.article.create", TargetType: "HelpArticle", TargetID: a.ID,
		Details: map[string]any{"slug": a.Slug, "locale": string(a.Locale), "status": string(a.Status)}})
}

// UpdateArticle rewrites an article and its index entries (admins). Publishing sets
// publishedAt the first time.
func (s *Service) UpdateArticle(ctx context.Context, db *ent.Client, id int, in ArticleInput) (*ent.HelpArticle, error) {
	old, err := db.HelpArticle.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("id", "article")
	}
	if err != nil {
		return nil, err
	}
	if in, err = in.check(ctx, db); err != nil {
		return nil, err
	}
	if err := slugFree(ctx, db, in, id); err != nil {
		return nil, err
	}
	now := s.now()
	up := db.HelpArticle.UpdateOneID(id).SetCategoryID(in.CategoryID).SetSlug(in.Slug).SetLocale(in.Locale).
		SetTitle(in.Title).SetBody(in.Body).SetStatus(in.Status).SetUpdatedAt(now)
	if in.Position != nil {
		up.SetPosition(*in.Position)
	}
	if in.Status == helparticle.StatusPUBLISHED && old.PublishedAt == nil {
		up.SetPublishedAt(now)
	}
	a, err := up.Save(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := db.HelpSearchToken.Delete().Where(helpsearchtoken.ArticleID(id)).Exec(viewer.SystemContext(ctx)); err != nil {
		return nil, err
	}
	if err := index(ctx, db, a); err != nil {
		return nil, err
	}
	return a, audit.Record(ctx, db, audit.Entry{Action: "help.article.update", TargetType: "HelpArticle", TargetID: id,
		Details: map[string]any{"slug": a.Slug, "locale": string(a.Locale), "status": string(a.Status),
			"previousStatus": string(old.Status)}})
}

// DeleteArticle removes an article with its votes and index entries (admins).
func (s *Service) DeleteArticle(ctx context.Context, db *ent.Client, id int) (int, error) {
	a, err := db.HelpArticle.Get(ctx, id)
	if ent.IsNotFound(err) {
		return 0, notFound("id", "article")
	}
	if err != nil {
		return 0, err
	}
	sys := viewer.SystemContext(ctx)
	if _, err := db.HelpSearchToken.Delete().Where(helpsearchtoken.ArticleID(id)).Exec(sys); err != nil {
		return 0, err
	}
	if _, err := db.HelpArticleVote.Delete().Where(helparticlevote.ArticleID(id)).Exec(sys); err != nil {
		return 0, err
	}
	if _, err := db.Translation.Delete().Where(translation.EntityTypeEQ(translation.EntityTypeHELP_ARTICLE), translation.EntityIDEQ(id)).Exec(sys); err != nil {
		return 0, err // its translations (internal/i18n)
	}
	if err := db.HelpArticle.DeleteOneID(id).Exec(ctx); err != nil {
		return 0, err
	}
	return id, audit.Record(ctx, db, audit.Entry{Action: "help.article.delete", TargetType: "HelpArticle", TargetID: id,
		Details: map[string]any{"slug": a.Slug, "locale": string(a.Locale), "title": a.Title}})
}

func slugFree(ctx context.Context, db *ent.Client, in ArticleInput, self int) error {
	taken, err := db.HelpArticle.Query().Where(helparticle.Slug(in.Slug), helparticle.LocaleEQ(in.Locale),
		helparticle.IDNEQ(self)).Exist(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if taken {
		return apperror.ConflictOn("slug", "another %s article has this slug", in.Locale)
	}
	return nil
}

// index writes the article's keyword index: title tokens weigh 4, body tokens 1.
func index(ctx context.Context, db *ent.Client, a *ent.HelpArticle) error {
	weights := search.Weigh(search.Field{Text: a.Title, Weight: search.TitleWeight},
		search.Field{Text: a.Body, Weight: search.DescriptionWeight})
	tokens := search.SortedTokens(weights)
	if len(tokens) == 0 {
		return nil
	}
	builders := make([]*ent.HelpSearchTokenCreate, len(tokens))
	for i, t := range tokens {
		builders[i] = db.HelpSearchToken.Create().SetArticleID(a.ID).SetToken(t).SetWeight(weights[t])
	}
	sys := viewer.SystemContext(ctx)
	for start := 0; start < len(builders); start += 500 {
		if err := db.HelpSearchToken.CreateBulk(builders[start:min(start+500, len(builders))]...).Exec(sys); err != nil {
			return err
		}
	}
	return nil
}

// Categories are every category, by position.
func Categories(ctx context.Context, db *ent.Client) ([]*ent.HelpCategory, error) {
	return db.HelpCategory.Query().Order(ent.Asc(helpcategory.FieldPosition), ent.Asc(helpcategory.FieldID)).All(ctx)
}

// Articles are the articles the caller may read (the public: PUBLISHED), by category and
// position.
func Articles(ctx context.Context, db *ent.Client, categoryID *int, locale *helparticle.Locale) ([]*ent.HelpArticle, error) {
	q := db.HelpArticle.Query()
	if categoryID != nil {
		q.Where(helparticle.CategoryID(*categoryID))
	}
	if locale != nil {
		q.Where(helparticle.LocaleEQ(*locale))
	}
	return q.Order(ent.Asc(helparticle.FieldCategoryID), ent.Asc(helparticle.FieldPosition), ent.Asc(helparticle.FieldID)).
		Limit(MaxArticlesListed).All(ctx)
}

// BySlug is the article of slug in locale the caller may read, or nil.
func BySlug(ctx context.Context, db *ent.Client, s string, locale helparticle.Locale) (*ent.HelpArticle, error) {
	a, err := db.HelpArticle.Query().Where(helparticle.Slug(s), helparticle.LocaleEQ(locale)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return a, err
}

// Search finds the articles the caller may read that match keyword, best first: most
// query terms matched, then the summed weight (title above body), then the newest. It
// reads the index as product search does (catalog/search.go): the rows of the query's
// terms grouped per article.
func Search(ctx context.Context, db *ent.Client, keyword string, locale *helparticle.Locale, first *int) ([]*ent.HelpArticle, error) {
	limit := 10
	if first != nil {
		if *first < 1 || *first > MaxSearchResults {
			return nil, apperror.BadInput("first", "must be between 1 and %d", MaxSearchResults)
		}
		limit = *first
	}
	if utf8.RuneCountInString(keyword) > 200 {
		return nil, apperror.BadInput("query", "is longer than 200 characters")
	}
	q := search.ParseQuery(keyword)
	if q.Empty() {
		return []*ent.HelpArticle{}, nil
	}
	term := func(token string, tm search.Term) *sql.Predicate {
		if tm.Prefix {
			return sql.And(sql.GTE(token, tm.Token), sql.LT(token, search.PrefixEnd(tm.Token)))
		}
		return sql.EQ(token, tm.Token)
	}
	// The article query below applies the privacy policy again: the candidates' filter
	// only keeps the ranking to what the caller may see.
	var matches []struct {
		ArticleID int   `json:"article_id"`
		Score     int64 `json:"score"`
	}
	err := db.HelpSearchToken.Query().Modify(func(s *sql.Selector) {
		token := s.C(helpsearchtoken.FieldToken)
		sum := func(b *sql.Builder, weighted bool) {
			b.WriteByte('(')
			for i, tm := range q.Terms {
				if i > 0 {
					b.WriteString(" + ")
				}
				b.WriteString("MAX(CASE WHEN ").Join(term(token, tm)).WriteString(" THEN ")
				if weighted {
					b.WriteString(s.C(helpsearchtoken.FieldWeight))
				} else {
					b.WriteByte('1')
				}
				b.WriteString(" ELSE 0 END)")
			}
			b.WriteByte(')')
		}
		anyTerm := make([]*sql.Predicate, len(q.Terms))
		for i, tm := range q.Terms {
			anyTerm[i] = term(token, tm)
		}
		// Only the articles the caller may find are ranked, so drafts (or the other
		// locale) never crowd the published ones out of the candidates.
		a := sql.Table(helparticle.Table)
		candidates := sql.Select(a.C(helparticle.FieldID)).From(a)
		if !viewer.FromContext(ctx).IsAdmin() {
			candidates.Where(sql.EQ(a.C(helparticle.FieldStatus), helparticle.StatusPUBLISHED))
		}
		if locale != nil {
			candidates.Where(sql.EQ(a.C(helparticle.FieldLocale), *locale))
		}
		s.Where(sql.In(s.C(helpsearchtoken.FieldArticleID), candidates))
		s.Select(s.C(helpsearchtoken.FieldArticleID)).
			AppendSelectExprAs(sql.ExprFunc(func(b *sql.Builder) {
				sum(b, false)
				b.WriteString(" * " + strconv.Itoa(search.ScoreScale) + " + ")
				sum(b, true)
			}), "score").
			Where(sql.Or(anyTerm...)).
			GroupBy(s.C(helpsearchtoken.FieldArticleID)).
			Having(sql.P(func(b *sql.Builder) {
				sum(b, false)
				b.WriteString(" >= ").Arg(q.MinMatch)
			})).
			OrderExpr(sql.Expr("score DESC")).OrderBy(sql.Desc(s.C(helpsearchtoken.FieldArticleID))).
			Limit(MaxArticlesListed)
	}).Scan(ctx, &matches)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return []*ent.HelpArticle{}, nil
	}
	ids := make([]int, len(matches))
	for i, m := range matches {
		ids[i] = m.ArticleID
	}
	aq := db.HelpArticle.Query().Where(helparticle.IDIn(ids...))
	if locale != nil {
		aq.Where(helparticle.LocaleEQ(*locale))
	}
	found, err := aq.All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]*ent.HelpArticle, len(found))
	for _, a := range found {
		byID[a.ID] = a
	}
	out := make([]*ent.HelpArticle, 0, limit)
	for _, id := range ids {
		if a := byID[id]; a != nil && len(out) < limit {
			out = append(out, a)
		}
	}
	return out, nil
}

var visitorPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Vote records the caller's "was this helpful" answer on a published article: once per
// signed-in user, or per visitorID for anonymous readers; a second vote changes the first.
// The article row is locked first (SELECT … FOR UPDATE on MySQL; SQLite's transactions
// hold the write lock), so the vote row and the counters change together and concurrent
// votes on an article queue up instead of deadlocking on the vote's unique index.
func (s *Service) Vote(ctx context.Context, db *ent.Client, id int, helpful bool, visitorID *string) (*ent.HelpArticle, error) {
	v := viewer.FromContext(ctx)
	var voter string
	switch {
	case v.UserID != 0:
		voter = "u:" + strconv.Itoa(v.UserID)
	case visitorID != nil && visitorPattern.MatchString(*visitorID):
		voter = "v:" + *visitorID
	case visitorID != nil:
		return nil, apperror.BadInput("visitorID", "use 8 to 64 letters, digits, - or _")
	default:
		return nil, apperror.BadInput("visitorID", "anonymous readers give a visitorID")
	}
	// The public reads published articles only (privacy), admins every one; votes go to
	// published ones.
	_, err := db.HelpArticle.Query().Where(helparticle.ID(id), helparticle.StatusEQ(helparticle.StatusPUBLISHED),
		func(s *sql.Selector) {
			if s.Dialect() == dialect.MySQL {
				s.ForUpdate()
			}
		}).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("id", "article")
	}
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	old, err := db.HelpArticleVote.Query().Where(helparticlevote.ArticleID(id), helparticlevote.Voter(voter)).Only(sys)
	switch {
	case ent.IsNotFound(err):
		if err := db.HelpArticleVote.Create().SetArticleID(id).SetVoter(voter).SetHelpful(helpful).Exec(sys); err != nil {
			return nil, err
		}
		up := db.HelpArticle.UpdateOneID(id)
		if helpful {
			up.AddHelpfulCount(1)
		} else {
			up.AddNotHelpfulCount(1)
		}
		if err := up.Exec(sys); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case old.Helpful != helpful:
		if err := db.HelpArticleVote.UpdateOne(old).SetHelpful(helpful).Exec(sys); err != nil {
			return nil, err
		}
		d := 1
		if !helpful {
			d = -1
		}
		if err := db.HelpArticle.UpdateOneID(id).AddHelpfulCount(d).AddNotHelpfulCount(-d).Exec(sys); err != nil {
			return nil, err
		}
	}
	return db.HelpArticle.Get(sys, id)
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
