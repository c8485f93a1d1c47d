package client

import (
	"context"

	"github.com/alluxio-go/alluxio/daemon/wire"
)

// SetXattr sets an extended attribute; flags are meta.XattrCreate or
// meta.XattrReplace, or 0.
func (c *Client) SetXattr(ctx context.Context, path, name string, value []byte, flags int) error {
	return c.callMaster(ctx, wire.MasterSetXattr, false, wire.XattrRequest{Path: path, Name: name, Value: value, Flags: flags}, nil)
}

// RemoveXattr removes an extended attribute.
func (c *Client) RemoveXattr(ctx context.Context, path, name string) error {
	return c.callMaster(ctx, wire.MasterRemoveXattr, false, wire.XattrRequest{Path: path, Name: name}, nil)
}

// GetXattr returns an extended attribute's value.
func (c *Client) GetXattr(ctx context.Context, path, name string) ([]byte, error) {
	var r wire.XattrResponse
	err := c.callMaster(ctx, wire.MasterGetXattr, true, wire.XattrRequest{Path: path, Name: name}, &r)
	return r.Value, err
}

// ListXattr returns the names of an entry's extended attributes.
func (c *Client) ListXattr(ctx context.Context, path string) ([]string, error) {
	var r wire.XattrListResponse
	err := c.callMaster(ctx, wire.MasterListXattr, true, wire.XattrRequest{Path: path}, &r)
	return r.Names, err
}
