// Package aliyun sends codes with Aliyun SMS (dysmsapi SendSms, API version 2017-05-25),
// signed the RPC way: HMAC-SHA1 over the sorted, percent-encoded query (signature
// version 1.0).
package aliyun

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xiadan/xiadan/internal/sms"
)

// Endpoint is Aliyun SMS's API endpoint.
const Endpoint = "https://dysmsapi.aliyuncs.com"

// Options configure the sender.
type Options struct {
	AccessKeyID, AccessKeySecret string
	// SignName is the approved signature (签名); TemplateCode a template with ${code}.
	SignName, TemplateCode string
	// Endpoint overrides https://dysmsapi.aliyuncs.com.
	Endpoint   string
	HTTPClient *http.Client
	// Now and Nonce are the clock and nonce source (tests fix them).
	Now   func() time.Time
	Nonce func() string
}

// Sender is the Aliyun adapter. It is safe for concurrent use.
type Sender struct{ o Options }

var _ sms.Sender = (*Sender)(nil)

// New returns the sender.
func New(o Options) *Sender {
	if o.Endpoint == "" {
		o.Endpoint = Endpoint
	}
	o.Endpoint = strings.TrimSuffix(o.Endpoint, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Nonce == nil {
		o.Nonce = func() string {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			return hex.EncodeToString(b)
		}
	}
	return &Sender{o}
}

// FromConfig returns the sender of c.
func FromConfig(c sms.Config, hc *http.Client) *Sender {
	return New(Options{AccessKeyID: c.AliyunAccessKeyID, AccessKeySecret: c.AliyunAccessKeySecret.Reveal(),
		SignName: c.AliyunSignName, TemplateCode: c.AliyunTemplateCode, Endpoint: c.AliyunEndpoint, HTTPClient: hc})
}

// Send calls SendSms with TemplateParam {"code": …}. Chinese numbers go without +86;
// others as country code and number (Aliyun's form for international messages).
func (s *Sender) Send(ctx context.Context, m sms.Message) error {
	to := strings.TrimPrefix(m.To, "+")
	if strings.HasPrefix(m.To, "+86") {
		to = m.To[3:]
	}
	param, _ := json.Marshal(map[string]string{"code": m.Code})
	q := map[string]string{
		"AccessKeyId":      s.o.AccessKeyID,
		"Action":           "SendSms",
		"Format":           "JSON",
		"PhoneNumbers":     to,
		"RegionId":         "cn-hangzhou",
		"SignName":         s.o.SignName,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   s.o.Nonce(),
		"SignatureVersion": "1.0",
		"TemplateCode":     s.o.TemplateCode,
		"TemplateParam":    string(param),
		"Timestamp":        s.o.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"Version":          "2017-05-25",
	}
	query := CanonicalQuery(q)
	body := "Signature=" + Encode(Sign(s.o.AccessKeySecret, http.MethodPost, query)) + "&" + query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.Endpoint+"/", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", sms.ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: aliyun SendSms: request failed", sms.ErrProvider)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("%w: aliyun SendSms: %v", sms.ErrProvider, err)
	}
	// Errors come with 4xx/5xx statuses and the same JSON shape.
	var a struct {
		Code, Message, RequestID, BizID string
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.Code == "" {
		return fmt.Errorf("%w: aliyun SendSms: HTTP %d, no JSON answer", sms.ErrProvider, res.StatusCode)
	}
	if a.Code == "OK" && res.StatusCode == http.StatusOK {
		return nil
	}
	return classify(a.Code, a.Message, res.StatusCode)
}

// classify maps Aliyun's error codes to the sms sentinels.
func classify(code, msg string, status int) error {
	sentinel := sms.ErrProvider
	switch {
	case code == "isv.MOBILE_NUMBER_ILLEGAL" || code == "isv.BLACK_KEY_CONTROL_LIMIT" || code == "isv.MOBILE_COUNT_OVER_LIMIT":
		sentinel = sms.ErrInvalidNumber
	case code == "isv.BUSINESS_LIMIT_CONTROL" || code == "isv.DAY_LIMIT_CONTROL" || code == "Throttling.User":
		sentinel = sms.ErrRateLimited
	case code == "SignatureDoesNotMatch" || code == "SignatureNonceUsed" || code == "InvalidTimeStamp.Expired":
		sentinel = sms.ErrInvalidSignature
	case strings.HasPrefix(code, "InvalidAccessKeyId") || code == "isv.SMS_SIGNATURE_ILLEGAL" || code == "isv.SMS_TEMPLATE_ILLEGAL" ||
		code == "isv.AMOUNT_NOT_ENOUGH" || code == "isv.OUT_OF_SERVICE" || code == "isv.ACCOUNT_NOT_EXISTS" ||
		code == "isv.ACCOUNT_ABNORMAL" || code == "isv.TEMPLATE_MISSING_PARAMETERS" || code == "Forbidden.NoPermission":
		sentinel = sms.ErrConfig
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return fmt.Errorf("%w: aliyun SendSms: HTTP %d, %s %s", sentinel, status, code, msg)
}

// CanonicalQuery is the sorted query Aliyun signs: each name and value percent-encoded
// (Encode), joined as name=value with &.
func CanonicalQuery(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = Encode(k) + "=" + Encode(params[k])
	}
	return strings.Join(parts, "&")
}

// Sign is base64(HMAC-SHA1(secret + "&", method + "&%2F&" + Encode(query))).
func Sign(secret, method, query string) string {
	h := hmac.New(sha1.New, []byte(secret+"&"))
	h.Write([]byte(method + "&" + Encode("/") + "&" + Encode(query)))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Encode is Aliyun's percent-encoding (RFC 3986: everything but A-Z a-z 0-9 - _ . ~).
func Encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}
