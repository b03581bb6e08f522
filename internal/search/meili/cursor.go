package meili

import (
	"context"
	"errors"
	"net/http"
)

// IndexCursor keeps the syncer's cursor on the search server itself, as the one document
// of the index <prefix>_sync. The cursor then lives and dies with the indexes it
// describes: a server restored from an old snapshot carries the cursor of that moment
// and catches up from there, and a new, empty server has no cursor and is rebuilt. A
// cursor kept in the database would instead tell a wiped server it is up to date.
type IndexCursor struct{ Client *Client }

type cursorDoc struct {
	ID     string `json:"id"`
	Cursor int64  `json:"cursor"`
}

func (s IndexCursor) index() string { return s.Client.cfg.IndexPrefix + "_sync" }

// Cursor reads the cursor; ok is false when the index or its document is missing.
func (s IndexCursor) Cursor(ctx context.Context) (int64, bool, error) {
	var d cursorDoc
	err := s.Client.do(ctx, http.MethodGet, "/indexes/"+s.index()+"/documents/cursor", nil, nil, &d)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Code == "index_not_found" || apiErr.Code == "document_not_found") {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return d.Cursor, true, nil
}

// SetCursor writes the cursor and waits until it is stored (the index is created with
// the first write).
func (s IndexCursor) SetCursor(ctx context.Context, cursor int64) error {
	var t Task
	q := map[string][]string{"primaryKey": {"id"}}
	if err := s.Client.do(ctx, http.MethodPost, "/indexes/"+s.index()+"/documents", q, []cursorDoc{{ID: "cursor", Cursor: cursor}}, &t); err != nil {
		return err
	}
	return s.Client.wait(ctx, t)
}
