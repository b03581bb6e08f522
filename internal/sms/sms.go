// Package sms sends one-time sign-in codes by text message: the Sender interface, phone
// numbers normalised to E.164, the development outbox, and (in sms/aliyun and
// sms/tencent) the Aliyun and Tencent Cloud adapters.
package sms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"

	"github.com/xiadan/xiadan/internal/secret"
)

// Message is one code sent to one phone.
type Message struct {
	// To is the phone number in E.164 (+8613800138000).
	To string
	// Code is the one-time code; Minutes how long it works (both go into the template).
	Code    string
	Minutes int
}

// Sender sends a code. Send returns once the provider accepted the message; it does not
// retry.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Sentinel errors of senders.
var (
	// ErrInvalidNumber: the provider refuses the number (not a mobile, blacklisted).
	ErrInvalidNumber = errors.New("sms: the provider refused the number")
	// ErrRateLimited: the provider's per-number or per-account limit was reached.
	ErrRateLimited = errors.New("sms: rate limited by the provider")
	// ErrConfig: the provider refuses our credentials, signature name or template.
	ErrConfig = errors.New("sms: the provider refused our configuration")
	// ErrInvalidSignature: our request's signature was refused (a clock or key problem).
	ErrInvalidSignature = errors.New("sms: request signature refused")
	// ErrProvider: unreachable or failing provider.
	ErrProvider = errors.New("sms: provider unavailable")
)

// The providers of SMS_PROVIDER.
const (
	ProviderOutbox  = ""
	ProviderAliyun  = "aliyun"
	ProviderTencent = "tencent"
)

// Config is every SMS setting.
type Config struct {
	// Provider is SMS_PROVIDER: aliyun, tencent, or empty (the development outbox outside
	// production; no phone sign-in in production).
	Provider string
	// Countries are the calling codes codes may be sent to (SMS_ALLOWED_COUNTRIES,
	// default 86): every other country is refused before anything is sent, which keeps
	// SMS-pumping fraud off the bill.
	Countries []int

	AliyunAccessKeyID     string       // ALIYUN_SMS_ACCESS_KEY_ID
	AliyunAccessKeySecret secret.Value // ALIYUN_SMS_ACCESS_KEY_SECRET
	AliyunSignName        string       // ALIYUN_SMS_SIGN_NAME
	AliyunTemplateCode    string       // ALIYUN_SMS_TEMPLATE_CODE (a template with ${code})
	AliyunEndpoint        string       // ALIYUN_SMS_ENDPOINT, default https://dysmsapi.aliyuncs.com

	TencentSecretID   string       // TENCENT_SMS_SECRET_ID
	TencentSecretKey  secret.Value // TENCENT_SMS_SECRET_KEY
	TencentSDKAppID   string       // TENCENT_SMS_SDK_APP_ID
	TencentSignName   string       // TENCENT_SMS_SIGN_NAME
	TencentTemplateID string       // TENCENT_SMS_TEMPLATE_ID (a template with {1} code, {2} minutes)
	TencentRegion     string       // TENCENT_SMS_REGION, default ap-guangzhou
	TencentEndpoint   string       // TENCENT_SMS_ENDPOINT, default https://sms.tencentcloudapi.com
}

// ConfigFromEnv reads and validates the SMS configuration, reporting every problem at
// once. Without SMS_PROVIDER, codes go to the development outbox outside production and
// phone sign-in is off in production.
func ConfigFromEnv(getenv func(string) string, _ bool) (Config, error) {
	str := func(name string) string { return strings.TrimSpace(getenv(name)) }
	c := Config{
		Provider:              strings.ToLower(str("SMS_PROVIDER")),
		AliyunAccessKeyID:     str("ALIYUN_SMS_ACCESS_KEY_ID"),
		AliyunAccessKeySecret: secret.Value(str("ALIYUN_SMS_ACCESS_KEY_SECRET")),
		AliyunSignName:        str("ALIYUN_SMS_SIGN_NAME"),
		AliyunTemplateCode:    str("ALIYUN_SMS_TEMPLATE_CODE"),
		AliyunEndpoint:        str("ALIYUN_SMS_ENDPOINT"),
		TencentSecretID:       str("TENCENT_SMS_SECRET_ID"),
		TencentSecretKey:      secret.Value(str("TENCENT_SMS_SECRET_KEY")),
		TencentSDKAppID:       str("TENCENT_SMS_SDK_APP_ID"),
		TencentSignName:       str("TENCENT_SMS_SIGN_NAME"),
		TencentTemplateID:     str("TENCENT_SMS_TEMPLATE_ID"),
		TencentRegion:         str("TENCENT_SMS_REGION"),
		TencentEndpoint:       str("TENCENT_SMS_ENDPOINT"),
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	countries := str("SMS_ALLOWED_COUNTRIES")
	if countries == "" {
		countries = "86"
	}
	for _, s := range strings.Split(countries, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "+"))
		if err != nil || n < 1 || n > 999 {
			bad("SMS_ALLOWED_COUNTRIES", "%q is not a calling code such as 86", s)
			continue
		}
		c.Countries = append(c.Countries, n)
	}
	require := func(name, v string) {
		if v == "" {
			bad(name, "is required with SMS_PROVIDER=%s", c.Provider)
		}
	}
	switch c.Provider {
	case ProviderOutbox:
		// Outside production: the development outbox. In production: phone sign-in off.
	case ProviderAliyun:
		require("ALIYUN_SMS_ACCESS_KEY_ID", c.AliyunAccessKeyID)
		require("ALIYUN_SMS_ACCESS_KEY_SECRET", c.AliyunAccessKeySecret.Reveal())
		require("ALIYUN_SMS_SIGN_NAME", c.AliyunSignName)
		require("ALIYUN_SMS_TEMPLATE_CODE", c.AliyunTemplateCode)
	case ProviderTencent:
		require("TENCENT_SMS_SECRET_ID", c.TencentSecretID)
		require("TENCENT_SMS_SECRET_KEY", c.TencentSecretKey.Reveal())
		require("TENCENT_SMS_SDK_APP_ID", c.TencentSDKAppID)
		require("TENCENT_SMS_SIGN_NAME", c.TencentSignName)
		require("TENCENT_SMS_TEMPLATE_ID", c.TencentTemplateID)
	default:
		bad("SMS_PROVIDER", "must be aliyun or tencent (or empty for the development outbox), not %q", c.Provider)
	}
	return c, errors.Join(errs...)
}

// ErrBadNumber is Normalize's answer for input that is not a mobile number of an allowed
// country.
var ErrBadNumber = errors.New("not a mobile phone number")

// Normalize reads a phone number as people type it — spaces, dashes, brackets, full-width
// digits, a leading 00 or +, or a Chinese number without country code — and returns it in
// E.164 (+8613800138000). It must be a mobile number (SMS goes nowhere else) of one of
// the allowed calling codes.
func Normalize(s string, countries []int) (string, error) {
	s = strings.TrimSpace(norm.NFKC.String(s))
	if s == "" || len(s) > 32 {
		return "", ErrBadNumber
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, "CN")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", ErrBadNumber
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", ErrBadNumber
	}
	if !slices.Contains(countries, int(n.GetCountryCode())) {
		return "", fmt.Errorf("%w: +%d is not a country codes are sent to", ErrBadNumber, n.GetCountryCode())
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// Mask shows a number as +86 138****8000, for messages and logs.
func Mask(e164 string) string {
	if len(e164) < 8 {
		return "****"
	}
	return e164[:len(e164)-8] + "****" + e164[len(e164)-4:]
}
