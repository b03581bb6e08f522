package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiadan/xiadan/ent"
)

// The stream's defaults; NATSOption changes them.
const (
	// DefaultNATSStream names the JetStream stream of order events.
	DefaultNATSStream = "XIADAN_ORDER_EVENTS"
	// DefaultNATSSubject starts the subject of every event: <prefix>.<merchant id>.
	DefaultNATSSubject = "xiadan.order_events"
	// defaultNATSMaxAge is how long the stream keeps an event: EVENT_RETENTION's default.
	// Nothing depends on it — a hub reads what it missed from the database — but a
	// replica that was away briefly catches up from the stream without that query.
	defaultNATSMaxAge = 7 * 24 * time.Hour
	// defaultNATSDuplicates is how long the stream remembers message ids, so a relay that
	// crashed between publishing and committing republishes without storing twice.
	defaultNATSDuplicates = 10 * time.Minute
	// natsBatch is the most events handed to deliver at once.
	natsBatch = 500
)

// NATS is the bus across replicas, on a NATS JetStream stream.
//
// Only one relay publishes a given event, even with many replicas: the relay publishes
// while it holds its row lock in the database (relay.go), so publication is serialized
// and in position order across replicas, and a relay commits the published position only
// after every publish is acknowledged by the stream. The one way an event is published
// twice is a crash (or a failed commit) after publishing and before committing; the next
// relay then publishes it again with the same message id ("evt-<event id>"), which
// JetStream drops within the duplicate window, and any later duplicate is dropped by the
// hubs, which never deliver a position twice.
type NATS struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	logger *slog.Logger

	stream     string
	subject    string
	maxAge     time.Duration
	duplicates time.Duration
}

// NATSOption changes a default of the NATS bus.
type NATSOption func(*NATS)

// NATSStream names the stream and the subject prefix of its events, so deployments (or
// test runs) sharing a NATS server keep their events apart.
func NATSStream(stream, subjectPrefix string) NATSOption {
	return func(n *NATS) { n.stream, n.subject = stream, subjectPrefix }
}

// NATSRetention is how long the stream keeps events (EVENT_RETENTION); 0 keeps the default.
func NATSRetention(d time.Duration) NATSOption {
	return func(n *NATS) {
		if d > 0 {
			n.maxAge = d
		}
	}
}

// NewNATS connects to the NATS server at url and creates (or updates) the stream of
// order events. It reconnects forever when the connection drops.
func NewNATS(url string, logger *slog.Logger, opts ...NATSOption) (*NATS, error) {
	n := &NATS{logger: logger, stream: DefaultNATSStream, subject: DefaultNATSSubject,
		maxAge: defaultNATSMaxAge, duplicates: defaultNATSDuplicates}
	for _, o := range opts {
		o(n)
	}
	nc, err := nats.Connect(url,
		nats.Name("xiadan"),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("events: NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("events: NATS reconnected", "server", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("events: NATS", "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("events: connecting to NATS: %w", err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("events: JetStream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.stream,
		Description: "Xiadan order events, published by the relay in position order",
		Subjects:    []string{n.subject + ".>"},
		Storage:     jetstream.FileStorage,
		MaxAge:      n.maxAge,
		Duplicates:  min(n.duplicates, n.maxAge),
	}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("events: creating the JetStream stream %s: %w", n.stream, err)
	}
	return n, nil
}

// reconnectDelay backs off from half a second to ten seconds, with jitter so replicas
// do not all reconnect at once.
func reconnectDelay(attempts int) time.Duration {
	d := min(500*time.Millisecond<<min(attempts, 5), 10*time.Second)
	return d/2 + rand.N(d/2)
}

// Publish stores evs on the stream and returns once the stream acknowledged every one.
func (n *NATS) Publish(ctx context.Context, evs []*ent.OrderEvent) error {
	acks := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		if ev.Position == nil {
			return fmt.Errorf("events: event %d has no position", ev.ID)
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("events: encoding event %d: %w", ev.ID, err)
		}
		ack, err := n.js.PublishAsync(n.subject+"."+strconv.Itoa(ev.MerchantID), data,
			jetstream.WithMsgID("evt-"+strconv.Itoa(ev.ID)), jetstream.WithExpectStream(n.stream))
		if err != nil {
			return fmt.Errorf("events: publishing event %d: %w", ev.ID, err)
		}
		acks = append(acks, ack)
	}
	for i, ack := range acks {
		select {
		case <-ack.Ok():
		case err := <-ack.Err():
			return fmt.Errorf("events: publishing event %d: %w", evs[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("events: waiting for the stream to acknowledge event %d: %w", evs[i].ID, ctx.Err())
		}
	}
	return nil
}

// Start consumes the stream from the events published after now, in stream order, and
// calls deliver with them in batches until ctx ends. Events published before Start, or
// while the consumer was being re-created, are not needed from NATS: the hub reads any
// gap from the database when the next event arrives.
func (n *NATS) Start(ctx context.Context, deliver func([]*ent.OrderEvent)) error {
	cons, err := n.consumer(ctx, 0)
	if err != nil {
		return err
	}
	queue := make(chan *ent.OrderEvent, 2*natsBatch)
	go n.consume(ctx, cons, queue)
	go deliverBatches(ctx, queue, deliver)
	return nil
}

// consumer creates an ordered consumer starting after stream sequence `after`, or with
// the next new message when after is 0.
func (n *NATS) consumer(ctx context.Context, after uint64) (jetstream.Consumer, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy, InactiveThreshold: time.Minute}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := n.js.OrderedConsumer(cctx, n.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("events: creating a consumer of %s: %w", n.stream, err)
	}
	return cons, nil
}

// consume reads the stream into queue until ctx ends. The ordered consumer re-creates
// itself after missed heartbeats, reconnects and gaps; when it gives up, consume logs
// why and starts a new one after the last message it read.
func (n *NATS) consume(ctx context.Context, cons jetstream.Consumer, queue chan<- *ent.OrderEvent) {
	var last uint64 // stream sequence of the last message read
	for attempt := 0; ; attempt++ {
		if cons != nil {
			err := n.read(ctx, cons, queue, &last)
			if ctx.Err() != nil || n.nc.IsClosed() {
				return
			}
			n.logger.Error("events: NATS consumer stopped; re-creating it", "stream", n.stream, "after", last, "err", err)
			attempt = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(reconnectDelay(attempt)):
		}
		var err error
		if cons, err = n.consumer(ctx, last); err != nil && ctx.Err() == nil {
			n.logger.Error("events: NATS consumer", "err", err)
		}
	}
}

// read passes the consumer's messages to queue until an error, recording in last the
// stream sequence of each one read.
func (n *NATS) read(ctx context.Context, cons jetstream.Consumer, queue chan<- *ent.OrderEvent, last *uint64) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(natsBatch))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		if meta, err := msg.Metadata(); err == nil {
			*last = meta.Sequence.Stream
		}
		ev := &ent.OrderEvent{}
		if err := json.Unmarshal(msg.Data(), ev); err != nil || ev.Position == nil {
			// The hub reads the event from the database when the next one arrives.
			n.logger.Error("events: undecodable message on the stream", "subject", msg.Subject(), "err", err)
			continue
		}
		select {
		case queue <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliverBatches calls deliver with what queue holds, up to natsBatch events at a time,
// until ctx ends.
func deliverBatches(ctx context.Context, queue <-chan *ent.OrderEvent, deliver func([]*ent.OrderEvent)) {
	for {
		var batch []*ent.OrderEvent // deliver may keep it
		select {
		case <-ctx.Done():
			return
		case ev := <-queue:
			batch = append(batch, ev)
		}
	more:
		for len(batch) < natsBatch {
			select {
			case ev := <-queue:
				batch = append(batch, ev)
			default:
				break more
			}
		}
		deliver(batch)
	}
}

// Close drains the connection: pending publishes and messages finish, then it closes.
func (n *NATS) Close() error {
	if err := n.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return err
	}
	return nil
}
