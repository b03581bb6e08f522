package catalog

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/ent/searchtoken"
	"github.com/xiadan/xiadan/internal/search"
	"github.com/xiadan/xiadan/internal/viewer"
)

// How long a replica uses the synonym groups and the index vocabulary it has read. A
// change made through this replica is used at once (SynonymsChanged); other replicas see
// it within SynonymTTL. A word new to the index is corrected to within VocabularyTTL.
const (
	SynonymTTL    = 2 * time.Second
	VocabularyTTL = time.Minute
	// MaxVocabulary bounds the Latin words kept for typo corrections.
	MaxVocabulary = 200_000
)

// SearchDicts keeps, for one database, what keyword analysis consults besides the
// keyword: the admins' synonym groups and the vocabulary of the index.
type SearchDicts struct {
	client *ent.Client
	now    func() time.Time

	mu           sync.Mutex
	synonyms     *search.Synonyms
	synonymsAt   time.Time
	synLoading   bool
	vocab        *search.Vocabulary
	vocabAt      time.Time
	vocabGen     uint64
	vocabLoading bool
}

// NewSearchDicts returns the dictionaries of client's database, read on first use.
func NewSearchDicts(client *ent.Client) *SearchDicts {
	return &SearchDicts{client: client, now: time.Now}
}

type searchDictsKey struct{}

// SearchDictsMiddleware makes d the dictionaries of every request's keyword searches.
func SearchDictsMiddleware(d *SearchDicts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), searchDictsKey{}, d)))
	})
}

// dictFor returns the dictionaries of ctx's request, or empty ones outside a request
// (keywords are then searched without synonyms or corrections).
func dictFor(ctx context.Context) search.Dict {
	d, _ := ctx.Value(searchDictsKey{}).(*SearchDicts)
	if d == nil {
		return search.Dict{}
	}
	return d.Dict(ctx)
}

// SynonymsChanged makes the next search read the synonym groups again.
func (d *SearchDicts) SynonymsChanged() {
	d.mu.Lock()
	d.synonyms = nil
	d.mu.Unlock()
}

type dictionaryLoad struct{}

// IsDictionaryLoad reports whether ctx is that of a statement reading the search
// dictionaries: a per-process cache, read once and then refreshed, not part of any page
// (statement-count tests leave these out).
func IsDictionaryLoad(ctx context.Context) bool { return ctx.Value(dictionaryLoad{}) != nil }

// Dict returns the current dictionaries. The synonyms are read on first use (and at once
// after a change through this replica), then refreshed in the background when older than
// SynonymTTL. The vocabulary is read only for keywords with a word long enough to be
// corrected: on first use and after this process wrote the index, else refreshed in the
// background when older than VocabularyTTL.
func (d *SearchDicts) Dict(ctx context.Context) search.Dict {
	sys := context.WithValue(viewer.SystemContext(context.WithoutCancel(ctx)), dictionaryLoad{}, true)
	now := d.now()
	d.mu.Lock()
	syn := d.synonyms
	refreshSyn := syn != nil && now.Sub(d.synonymsAt) >= SynonymTTL && !d.synLoading
	if refreshSyn {
		d.synLoading = true
	}
	d.mu.Unlock()
	if syn == nil {
		if s, err := loadSynonyms(sys, d.client); err == nil {
			syn = s
			d.mu.Lock()
			d.synonyms, d.synonymsAt = s, now
			d.mu.Unlock()
		}
	} else if refreshSyn {
		go func() {
			s, err := loadSynonyms(sys, d.client)
			d.mu.Lock()
			defer d.mu.Unlock()
			d.synLoading = false
			if err == nil {
				d.synonyms, d.synonymsAt = s, d.now()
			}
		}()
	}
	return search.Dict{Synonyms: syn, LoadVocab: func() *search.Vocabulary { return d.vocabulary(sys) }}
}

// vocabulary returns the index vocabulary, reading it when missing or when this process
// wrote the index since.
func (d *SearchDicts) vocabulary(sys context.Context) *search.Vocabulary {
	now := d.now()
	gen := search.IndexGeneration()
	d.mu.Lock()
	vocab := d.vocab
	sync := vocab == nil || d.vocabGen != gen
	refresh := !sync && now.Sub(d.vocabAt) >= VocabularyTTL && !d.vocabLoading
	if refresh {
		d.vocabLoading = true
	}
	d.mu.Unlock()
	if sync {
		if v, err := loadVocabulary(sys, d.client); err == nil {
			vocab = v
			d.mu.Lock()
			d.vocab, d.vocabAt, d.vocabGen = v, now, gen
			d.mu.Unlock()
		}
	} else if refresh {
		go func() {
			v, err := loadVocabulary(sys, d.client)
			d.mu.Lock()
			defer d.mu.Unlock()
			d.vocabLoading = false
			if err == nil {
				d.vocab, d.vocabAt, d.vocabGen = v, d.now(), gen
			}
		}()
	}
	return vocab
}

func loadSynonyms(ctx context.Context, client *ent.Client) (*search.Synonyms, error) {
	rows, err := client.SearchSynonym.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	groups := make([][]string, len(rows))
	for i, r := range rows {
		groups[i] = r.Terms
	}
	return search.NewSynonyms(groups), nil
}

// loadVocabulary reads the distinct Latin tokens of the index (an index range scan on
// search_tokens(token, product_id); MySQL and MariaDB skip from token to token).
func loadVocabulary(ctx context.Context, client *ent.Client) (*search.Vocabulary, error) {
	words, err := client.SearchToken.Query().
		Where(searchtoken.TokenGTE("a"), searchtoken.TokenLT("{")).
		Unique(true).Limit(MaxVocabulary).
		Select(searchtoken.FieldToken).Strings(ctx)
	if err != nil {
		return nil, err
	}
	df := make(map[string]int, len(words))
	for _, w := range words {
		df[w] = 1
	}
	return search.NewVocabulary(df), nil
}
