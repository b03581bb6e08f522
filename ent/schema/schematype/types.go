// Package schematype holds the Go types of JSON columns, apart from the schema so the
// generated entity packages can use them without importing the privacy rules.
package schematype

// Image is one picture of a product, kept in display order.
type Image struct {
	URL string `json:"url"`
	Alt string `json:"alt"`
	// UploadID is the upload the image came from (0 for an image given by URL), with
	// its size and thumbnails.
	UploadID   int              `json:"uploadId,omitempty"`
	Width      int              `json:"width,omitempty"`
	Height     int              `json:"height,omitempty"`
	Thumbnails []ImageThumbnail `json:"thumbnails,omitempty"`
}

// Attribute is one key/value specification of a product, such as 材质=纯棉.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// OptionValue is one option a variant takes, such as colour=red.
type OptionValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Address is a postal address snapshot, kept on orders as it was at checkout.
type Address struct {
	RecipientName string `json:"recipientName"`
	Phone         string `json:"phone"`
	Country       string `json:"country"`
	Province      string `json:"province"`
	City          string `json:"city"`
	District      string `json:"district"`
	Street        string `json:"street"`
	PostalCode    string `json:"postalCode"`
}

// VirtualContent is what a merchant delivers for a virtual order.
type VirtualContent struct {
	Codes   []string `json:"codes"`
	Links   []string `json:"links"`
	Message string   `json:"message"`
}
