// Package providers builds the payment.Registry from payment.Config: the sandbox when
// enabled, and each real adapter whose variables are set.
package providers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/payment/alipay"
	"github.com/xiadan/xiadan/internal/payment/qq"
	"github.com/xiadan/xiadan/internal/payment/sandbox"
	"github.com/xiadan/xiadan/internal/payment/wechat"
)

// New validates cfg, loads the configured keys and returns the registry. hc, when not
// nil, is the HTTP client every adapter uses to call its provider. The sandbox, when
// enabled, serves BANK_CARD and every method without a real adapter; it is also
// returned so the server can mount its pay page (nil when disabled).
func New(cfg payment.Config, hc *http.Client) (*payment.Registry, *sandbox.Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	var (
		errs     []error
		adapters = map[payment.Method]payment.Provider{}
		sb       *sandbox.Sandbox
		fallback payment.Provider
	)
	if cfg.Sandbox.Enabled {
		s, err := sandbox.New(sandbox.Options{
			Secret: []byte(cfg.Sandbox.Secret.Reveal()), PublicURL: cfg.PublicURL,
			Tolerance: cfg.Sandbox.Tolerance, HTTPClient: hc,
		})
		if err != nil {
			errs = append(errs, err)
		} else {
			sb, fallback = s, s
		}
	}
	if cfg.Alipay.Enabled() {
		if p, err := alipay.FromConfig(cfg.Alipay, hc); err != nil {
			errs = append(errs, err)
		} else {
			adapters[payment.MethodAlipay] = p
		}
	}
	if cfg.WeChat.Enabled() {
		if p, err := wechat.FromConfig(cfg.WeChat, hc); err != nil {
			errs = append(errs, err)
		} else {
			adapters[payment.MethodWeChatPay] = p
		}
	}
	if cfg.QQ.Enabled() {
		if p, err := qq.FromConfig(cfg.QQ, hc); err != nil {
			errs = append(errs, err)
		} else {
			adapters[payment.MethodQQWallet] = p
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("payment providers: %w", errors.Join(errs...))
	}
	return payment.NewRegistry(fallback, adapters), sb, nil
}
