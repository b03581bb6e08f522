// Package channel names where a visit, an event or an order came from, and carries a
// request's channel (the X-Xiadan-Channel header) to checkout. It is apart from
// internal/analytics so that internal/orders can use it without an import cycle.
package channel

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// Header names the channel of a request; checkout records it on its orders.
const Header = "X-Xiadan-Channel"

// Channel is where a visit, an event or an order came from (GraphQL SalesChannel).
type Channel string

// Channels, as ent/schema.Channels.
const (
	Web          Channel = "WEB"
	App          Channel = "APP"
	WeChatMini   Channel = "WECHAT_MINI"
	AlipayMini   Channel = "ALIPAY_MINI"
	QQMini       Channel = "QQ_MINI"
	BaiduMini    Channel = "BAIDU_MINI"
	DouyinMini   Channel = "DOUYIN_MINI"
	KuaishouMini Channel = "KUAISHOU_MINI"
	CreatorLink  Channel = "CREATOR_LINK"
)

// All lists the channels in the order dashboards show them.
var All = []Channel{Web, App, WeChatMini, AlipayMini, QQMini, BaiduMini, DouyinMini, KuaishouMini, CreatorLink}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, k := range All {
		if c == k {
			return true
		}
	}
	return false
}

// MarshalGQL writes the channel as a GraphQL enum value.
func (c Channel) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(c))) }

// UnmarshalGQL reads a GraphQL enum value.
func (c *Channel) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Channel(s).Valid() {
		return fmt.Errorf("%v is not a valid SalesChannel", v)
	}
	*c = Channel(s)
	return nil
}

type ctxKey struct{}

// NewContext records the request's channel, from the X-Xiadan-Channel header; an empty or
// unknown value is WEB (a checkout is never refused for its header).
func NewContext(ctx context.Context, header string) context.Context {
	c := Channel(header)
	if !c.Valid() {
		c = Web
	}
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext is the request's channel, WEB when none was recorded.
func FromContext(ctx context.Context) Channel {
	if c, ok := ctx.Value(ctxKey{}).(Channel); ok {
		return c
	}
	return Web
}
