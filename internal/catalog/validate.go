package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/xiadan/xiadan/ent/schema/schematype"
	"github.com/xiadan/xiadan/internal/apperror"
	"github.com/xiadan/xiadan/internal/money"
	"github.com/xiadan/xiadan/internal/onboarding"
	"github.com/xiadan/xiadan/internal/usertext"
)

// Field paths in errors are relative to the mutation's `input` argument, written as a
// client would address them: `title`, `images[3].url`, `variants[1].sku`. Other arguments
// go by their name (`delta`, `reason`, `merchantID`).

var (
	skuRE      = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// indexed joins a list field and an index into a path, such as variants[2].
func indexed(list string, i int) string { return fmt.Sprintf("%s[%d]", list, i) }

// dotted joins a path prefix and a field name; an empty prefix gives the bare name.
func dotted(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// checkText checks one line of text a shopper will read — a title, a name, an option
// value, an image's alt text — of min to max characters (usertext.Line: no control,
// invisible or text-direction characters).
func checkText(field, v string, min, max int) (string, error) {
	return usertext.Line(field, v, min, max)
}

// checkLongText checks a description: several lines of min to max characters
// (usertext.Text: no control or text-direction characters).
func checkLongText(field, v string, min, max int) (string, error) {
	return usertext.Text(field, v, min, max)
}

// checkImages validates product images: at most MaxImages, https URLs, short alt text.
func checkImages(in []schematype.Image) ([]schematype.Image, error) {
	if len(in) > MaxImages {
		return nil, apperror.BadInput("images", "at most %d images", MaxImages)
	}
	out := make([]schematype.Image, len(in))
	for i, im := range in {
		alt, err := checkText(indexed("images", i)+".alt", im.Alt, 0, MaxAlt)
		if err != nil {
			return nil, err
		}
		if im.UploadID != 0 { // resolved from an upload by ImageUploads: our own URL
			im.Alt = alt
			out[i] = im
			continue
		}
		url, err := onboarding.CheckHTTPSURL(indexed("images", i)+".url", im.URL)
		if err != nil {
			return nil, err
		}
		out[i] = schematype.Image{URL: url, Alt: alt}
	}
	return out, nil
}

// checkAttributes validates product attributes: at most MaxAttributes non-empty pairs.
func checkAttributes(in []schematype.Attribute) ([]schematype.Attribute, error) {
	if len(in) > MaxAttributes {
		return nil, apperror.BadInput("attributes", "at most %d attributes", MaxAttributes)
	}
	out := make([]schematype.Attribute, len(in))
	for i, a := range in {
		name, err := checkText(indexed("attributes", i)+".name", a.Name, 1, MaxNameValue)
		if err != nil {
			return nil, err
		}
		value, err := checkText(indexed("attributes", i)+".value", a.Value, 1, MaxNameValue)
		if err != nil {
			return nil, err
		}
		out[i] = schematype.Attribute{Name: name, Value: value}
	}
	return out, nil
}

// checkSKU trims and checks a SKU code.
func checkSKU(field, sku string) (string, error) {
	sku = strings.TrimSpace(sku)
	if len(sku) == 0 || len(sku) > MaxSKU || !skuRE.MatchString(sku) {
		return "", apperror.BadInput(field, "must be 1 to %d letters, digits, dots, underscores or hyphens", MaxSKU)
	}
	return sku, nil
}

// checkCurrency normalises the ISO 4217 code of a variant of a merchant that sells in
// merchantCurrency, which it defaults to and must be: an order adds the variants' prices
// to the merchant's shipping fee, amounts of one currency.
func checkCurrency(field, c, merchantCurrency string) (string, error) {
	c = strings.TrimSpace(c)
	switch {
	case c == "":
		return merchantCurrency, nil
	case !currencyRE.MatchString(c):
		return "", apperror.BadInput(field, "must be a 3-letter upper-case ISO 4217 code such as CNY")
	case c != merchantCurrency:
		return "", apperror.BadInput(field, "must be %s, the currency the merchant sells in", merchantCurrency)
	}
	return c, nil
}

// checkPrice parses a decimal price of currency into minor units; it must be above zero.
func checkPrice(field, price, currency string) (int64, error) {
	minor, err := money.ParseAmount(price, currency)
	if err != nil || minor <= 0 {
		return 0, apperror.BadInput(field, "must be a decimal amount above zero with at most %d decimal places, such as \"19.90\"",
			money.Exponent(currency))
	}
	if minor > MaxPrice {
		return 0, apperror.BadInput(field, "must be at most %s", money.Money{Minor: MaxPrice, Currency: currency}.Amount())
	}
	return minor, nil
}

// checkStock checks an absolute stock level.
func checkStock(field string, stock int) error {
	if stock < 0 || stock > MaxStock {
		return apperror.BadInput(field, "must be between 0 and %d", MaxStock)
	}
	return nil
}

// checkOptions validates a variant's own options: non-empty names and values, each name once.
func checkOptions(field string, in []schematype.OptionValue) ([]schematype.OptionValue, error) {
	out := make([]schematype.OptionValue, len(in))
	for i, o := range in {
		name, err := checkText(fmt.Sprintf("%s[%d].name", field, i), o.Name, 1, MaxNameValue)
		if err != nil {
			return nil, err
		}
		value, err := checkText(fmt.Sprintf("%s[%d].value", field, i), o.Value, 1, MaxNameValue)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out[:i], func(p schematype.OptionValue) bool { return p.Name == name }) {
			return nil, apperror.BadInput(field, "names the option %q twice", name)
		}
		out[i] = schematype.OptionValue{Name: name, Value: value}
	}
	return out, nil
}

// optionNames lists the option names of a variant, in order.
func optionNames(opts []schematype.OptionValue) []string {
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.Name
	}
	return names
}

// checkOptionsFit checks that opts fit a product whose other variants take others: the
// same option names in the same order, and a combination of values none of them has.
// otherNames says how to refer to each of the others in the error.
func checkOptionsFit(field string, opts []schematype.OptionValue, others [][]schematype.OptionValue, otherNames []string) error {
	if len(others) == 0 {
		return nil
	}
	want := optionNames(others[0])
	if !slices.Equal(optionNames(opts), want) {
		return apperror.BadInput(field, "must name the options %q in this order, as the product's other variants do", want)
	}
	for i, o := range others {
		if slices.Equal(opts, o) {
			return apperror.BadInput(field, "has the same option values as %s", otherNames[i])
		}
	}
	return nil
}

// variant is a validated VariantInput.
type variant struct {
	sku               string
	options           []schematype.OptionValue
	price             int64
	currency          string
	stock             int
	lowStockThreshold int
}

// checkVariant validates one new variant of a merchant selling in currency; prefix is its
// path ("variants[2]", or "" for addProductVariant's input).
func checkVariant(prefix string, in VariantInput, currency string) (variant, error) {
	var (
		out variant
		err error
	)
	if out.sku, err = checkSKU(dotted(prefix, "sku"), in.SKU); err != nil {
		return out, err
	}
	if out.options, err = checkOptions(dotted(prefix, "options"), in.Options); err != nil {
		return out, err
	}
	if out.currency, err = checkCurrency(dotted(prefix, "currency"), in.Currency, currency); err != nil {
		return out, err
	}
	if out.price, err = checkPrice(dotted(prefix, "price"), in.Price, out.currency); err != nil {
		return out, err
	}
	if err = checkStock(dotted(prefix, "stock"), in.Stock); err != nil {
		return out, err
	}
	if in.LowStockThreshold < 0 || in.LowStockThreshold > MaxStock {
		return out, apperror.BadInput(dotted(prefix, "lowStockThreshold"), "must be between 0 and %d", MaxStock)
	}
	out.stock, out.lowStockThreshold = in.Stock, in.LowStockThreshold
	return out, nil
}

// checkVariants validates the variants of a new product of a merchant selling in
// currency, each alone and against each other.
func checkVariants(in []VariantInput, currency string) ([]variant, error) {
	if len(in) == 0 || len(in) > MaxVariants {
		return nil, apperror.BadInput("variants", "give 1 to %d variants", MaxVariants)
	}
	out := make([]variant, len(in))
	others := make([][]schematype.OptionValue, 0, len(in))
	names := make([]string, 0, len(in))
	for i, vi := range in {
		prefix := indexed("variants", i)
		v, err := checkVariant(prefix, vi, currency)
		if err != nil {
			return nil, err
		}
		if i > 0 && v.currency != out[0].currency {
			return nil, apperror.BadInput(prefix+".currency", "must be %s, as for every variant of the product", out[0].currency)
		}
		if err := checkOptionsFit(prefix+".options", v.options, others, names); err != nil {
			return nil, err
		}
		for j := range i {
			if out[j].sku == v.sku {
				return nil, apperror.ConflictOn(prefix+".sku", "the SKU %q is also given to variants[%d]", v.sku, j)
			}
		}
		out[i] = v
		others = append(others, v.options)
		names = append(names, prefix)
	}
	return out, nil
}
