package wire

// Master methods for extended attributes.
const (
	MasterSetXattr    = "master.SetXattr"
	MasterGetXattr    = "master.GetXattr"
	MasterListXattr   = "master.ListXattr"
	MasterRemoveXattr = "master.RemoveXattr"
)

// XattrRequest names an attribute of a path, and for SetXattr its value
// and setxattr(2) flags.
type XattrRequest struct {
	Path  string `json:"path"`
	Name  string `json:"name,omitempty"`
	Value []byte `json:"value,omitempty"`
	Flags int    `json:"flags,omitempty"`
}

// XattrResponse carries an attribute's value.
type XattrResponse struct {
	Value []byte `json:"value"`
}

// XattrListResponse carries attribute names.
type XattrListResponse struct {
	Names []string `json:"names"`
}
