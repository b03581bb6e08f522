// Package providers builds the identity.Registry from identity.Config: each platform's
// configured mini program and web sign-in, and the sandbox for the others when it is on.
package providers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/identity/alipay"
	"github.com/xiadan/xiadan/internal/identity/kuaishou"
	"github.com/xiadan/xiadan/internal/identity/qq"
	"github.com/xiadan/xiadan/internal/identity/sandbox"
	"github.com/xiadan/xiadan/internal/identity/wechat"
)

// New validates cfg, loads its keys and returns the registry, and the sandbox when it is
// on (for mounting its page; nil otherwise). hc, when not nil, calls the platforms.
func New(cfg identity.Config, hc *http.Client) (*identity.Registry, *sandbox.Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	var (
		errs []error
		mini []identity.MiniProgram
		web  []identity.Web
	)
	if c := cfg.WeChatMini; c.Enabled() {
		mini = append(mini, wechat.NewMiniProgram(wechat.Options{AppID: c.AppID, Secret: c.Secret.Reveal(), APIBaseURL: cfg.WeChatAPIURL, HTTPClient: hc}))
	}
	if c := cfg.QQMini; c.Enabled() {
		mini = append(mini, qq.NewMiniProgram(qq.Options{AppID: c.AppID, Secret: c.Secret.Reveal(), BaseURL: cfg.QQMiniAPIURL, HTTPClient: hc}))
	}
	if c := cfg.KuaishouMini; c.Enabled() {
		mini = append(mini, kuaishou.NewMiniProgram(kuaishou.Options{AppID: c.AppID, Secret: c.Secret.Reveal(), BaseURL: cfg.KuaishouAPIURL, HTTPClient: hc}))
	}
	if cfg.AlipayMini.Enabled() {
		if m, err := alipay.FromConfig(cfg.AlipayMini, cfg.Production, cfg.AlipayGatewayURL, hc); err != nil {
			errs = append(errs, err)
		} else {
			mini = append(mini, m)
		}
	}
	if c := cfg.WeChatWeb; c.Enabled() {
		web = append(web, wechat.NewWeb(wechat.Options{AppID: c.AppID, Secret: c.Secret.Reveal(),
			APIBaseURL: cfg.WeChatAPIURL, OpenBaseURL: cfg.WeChatOpenURL, HTTPClient: hc}))
	}
	if c := cfg.QQWeb; c.Enabled() {
		web = append(web, qq.NewConnect(qq.Options{AppID: c.AppID, Secret: c.Secret.Reveal(), BaseURL: cfg.QQConnectURL, HTTPClient: hc}))
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("sign-in platforms: %w", errors.Join(errs...))
	}
	var sb *sandbox.Sandbox
	if cfg.Sandbox {
		sb = sandbox.New([]byte(cfg.SandboxSecret.Reveal()), cfg.PublicURL)
		for _, p := range identity.Platforms() {
			found := false
			for _, m := range mini {
				found = found || m.Platform() == p
			}
			if !found {
				mini = append(mini, sb.Mini(p))
			}
		}
		for _, p := range []identity.Platform{identity.WeChat, identity.QQ} {
			found := false
			for _, w := range web {
				found = found || w.Platform() == p
			}
			if !found {
				web = append(web, sb.Web(p))
			}
		}
	}
	return identity.NewRegistry(mini, web), sb, nil
}
