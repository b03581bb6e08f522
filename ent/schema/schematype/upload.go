package schematype

// Thumbnail is one scaled-down copy of an uploaded image, as stored.
type Thumbnail struct {
	// Size is the bound of the longest side it was made for (200, 800).
	Size   int    `json:"size"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Key    string `json:"key"`
	// ContentType is image/jpeg, or image/png for an image with transparency.
	ContentType string `json:"contentType"`
}

// ImageThumbnail is a thumbnail of a product image, with the URL it is served at.
type ImageThumbnail struct {
	Size   int    `json:"size"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	URL    string `json:"url"`
}
