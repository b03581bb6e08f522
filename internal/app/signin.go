package app

import (
	"context"
	"log/slog"

	"github.com/xiadan/xiadan/ent"
	"github.com/xiadan/xiadan/internal/auth"
	"github.com/xiadan/xiadan/internal/config"
	"github.com/xiadan/xiadan/internal/identity"
	"github.com/xiadan/xiadan/internal/identity/providers"
	"github.com/xiadan/xiadan/internal/identity/sandbox"
	"github.com/xiadan/xiadan/internal/payment"
	"github.com/xiadan/xiadan/internal/sms"
	"github.com/xiadan/xiadan/internal/sms/aliyun"
	"github.com/xiadan/xiadan/internal/sms/tencent"
)

// signIn is what the platform and phone sign-ins are built from.
type signIn struct {
	registry *identity.Registry
	sandbox  *sandbox.Sandbox
	sms      sms.Sender
}

// newSignIn builds the sign-in platforms and the SMS sender from the configuration.
func newSignIn(cfg config.Config, logger *slog.Logger) (signIn, error) {
	// The sandbox's page lives at the server's one public URL.
	sc := cfg.SignIn
	sc.PublicURL = cfg.Payment.PublicURL
	reg, sb, err := providers.New(sc, nil)
	if err != nil {
		return signIn{}, err
	}
	var sender sms.Sender
	switch cfg.SMS.Provider {
	case sms.ProviderAliyun:
		sender = aliyun.FromConfig(cfg.SMS, nil)
	case sms.ProviderTencent:
		sender = tencent.FromConfig(cfg.SMS, nil)
	default:
		if !cfg.Production() {
			sender = &sms.Outbox{Dir: sms.OutboxDir(cfg.DataDir), Logger: logger}
		}
	}
	return signIn{registry: reg, sandbox: sb, sms: sender}, nil
}

// payerOpenID finds the openid a customer pays with in a mini program: the payment
// provider of the method pays in one app of one platform (WECHAT_APP_ID, ALIPAY_APP_ID,
// QQ_APP_ID when the real adapter is on; otherwise the sign-in mini program of that
// platform, the sandbox's included), and the customer's identity in that app is the
// payer. BANK_CARD has no platform.
func payerOpenID(cfg config.Config, reg *identity.Registry, svc *auth.Service) func(ctx context.Context, db *ent.Client, userID int, m payment.Method) (string, bool, error) {
	return func(ctx context.Context, db *ent.Client, userID int, m payment.Method) (string, bool, error) {
		var (
			platform identity.Platform
			appID    string
		)
		switch m {
		case payment.MethodWeChatPay:
			platform, appID = identity.WeChat, cfg.Payment.WeChat.AppID
			if !cfg.Payment.WeChat.Enabled() {
				appID = ""
			}
		case payment.MethodAlipay:
			platform, appID = identity.Alipay, cfg.Payment.Alipay.AppID
		case payment.MethodQQWallet:
			platform, appID = identity.QQ, cfg.Payment.QQ.AppID
			if !cfg.Payment.QQ.Enabled() {
				appID = ""
			}
		default:
			return "", false, nil
		}
		if appID == "" {
			mp, err := reg.MiniProgram(platform)
			if err != nil {
				return "", true, nil
			}
			appID = mp.AppID()
		}
		openID, err := svc.PayerOpenID(ctx, db, userID, platform, appID)
		return openID, true, err
	}
}
