package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/xiadan/xiadan/internal/apitest"
)

// wsNext waits for the subscription's next event, whatever its type.
func wsNext(t *testing.T, sub *apitest.WSSubscription) apitest.WSEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
