package wire

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// BinaryInfoField is the JSON field (true) by which a client says that it
// takes a StampedInfo answer in binary (AppendStampedInfo) in the data
// section: a FUSE lookup or create decodes it in a fraction of the time
// of its JSON. A master that does not know the field answers JSON, which
// the client takes as well.
const BinaryInfoField = "binInfo"

// infoFormat is the first byte of a binary status.
const infoFormat = 1

// Flags of a binary status.
const (
	infoDir = 1 << iota
	infoSymlink
	infoCompleted
	infoPersisted
	infoPinned
	infoXattrs
	infoMissing
	infoStamped
)

// AcceptsBinary tells the client to ask for the answer in binary.
func (r *StampedInfo) AcceptsBinary() bool { return true }

// SetData takes the response's data section: the answer in binary.
func (r *StampedInfo) SetData(b []byte) { r.data = b }

// TakeBinary decodes the binary answer SetData took, if any, into r;
// what names the call's subject for an error.
func (r *StampedInfo) TakeBinary(what string) error {
	if r.data == nil {
		return nil
	}
	s, err := DecodeStampedInfo(r.data, what)
	if err != nil {
		return err
	}
	*r = s
	return nil
}

// AppendStampedInfo appends s in binary to b: the format byte, a flags
// byte, the stamp when there is one (epoch, before, after), then the
// status's numbers and strings in the order of meta.FileInfo's fields.
// Numbers are varints, strings a length and their bytes.
func AppendStampedInfo(b []byte, s StampedInfo) []byte {
	fi := &s.FileInfo
	var flags byte
	for i, set := range []bool{fi.IsDir, fi.IsSymlink, fi.Completed, fi.Persisted, fi.Pinned, fi.HasXattrs, s.Missing, s.NS != nil} {
		if set {
			flags |= 1 << i
		}
	}
	b = append(b, infoFormat, flags)
	if s.NS != nil {
		b = binary.AppendUvarint(b, s.NS.Epoch)
		b = binary.AppendUvarint(b, s.NS.Before)
		b = binary.AppendUvarint(b, s.NS.After)
	}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, fi.ID)
	b = binary.AppendUvarint(b, fi.ParentID)
	str(fi.Name)
	str(fi.Path)
	for _, u := range []uint32{fi.Mode, fi.UID, fi.GID} {
		b = binary.AppendUvarint(b, uint64(u))
	}
	for _, v := range []int64{fi.Size, fi.Mtime, fi.Atime, fi.Ctime} {
		b = binary.AppendVarint(b, v)
	}
	str(fi.Symlink)
	str(fi.Fingerprint)
	str(fi.UfsFingerprint)
	b = binary.AppendUvarint(b, fi.MountID)
	str(fi.UfsPath)
	b = binary.AppendUvarint(b, uint64(fi.Nlink))
	b = binary.AppendVarint(b, fi.CreationTime)
	b = binary.AppendVarint(b, fi.TTL)
	str(fi.TTLAction)
	str(fi.Location)
	return b
}

// DecodeStampedInfo reads a binary status (AppendStampedInfo); what names
// the call's subject. An answer cut short, of another format or with
// bytes after its end is an EPROTO error.
func DecodeStampedInfo(b []byte, what string) (StampedInfo, error) {
	var s StampedInfo
	if len(b) < 2 || b[0] != infoFormat {
		return s, fmt.Errorf("binary status from %s: not of format %d: %w", what, infoFormat, syscall.EPROTO)
	}
	flags := b[1]
	d := briefDecoder{b: b[2:]}
	fi := &s.FileInfo
	fi.IsDir, fi.IsSymlink = flags&infoDir != 0, flags&infoSymlink != 0
	fi.Completed, fi.Persisted = flags&infoCompleted != 0, flags&infoPersisted != 0
	fi.Pinned, fi.HasXattrs, s.Missing = flags&infoPinned != 0, flags&infoXattrs != 0, flags&infoMissing != 0
	if flags&infoStamped != 0 {
		s.NS = &Stamp{Epoch: d.uvarint(), Before: d.uvarint(), After: d.uvarint()}
	}
	fi.ID, fi.ParentID = d.uvarint(), d.uvarint()
	fi.Name, fi.Path = d.str(), d.str()
	fi.Mode, fi.UID, fi.GID = d.uint32(), d.uint32(), d.uint32()
	fi.Size, fi.Mtime, fi.Atime, fi.Ctime = d.varint(), d.varint(), d.varint(), d.varint()
	fi.Symlink, fi.Fingerprint, fi.UfsFingerprint = d.str(), d.str(), d.str()
	fi.MountID = d.uvarint()
	fi.UfsPath = d.str()
	fi.Nlink = d.uint32()
	fi.CreationTime, fi.TTL = d.varint(), d.varint()
	fi.TTLAction, fi.Location = d.str(), d.str()
	if d.err != nil {
		return StampedInfo{}, fmt.Errorf("binary status from %s: %v: %w", what, d.err, syscall.EPROTO)
	}
	if len(d.b) != 0 {
		return StampedInfo{}, fmt.Errorf("binary status from %s: %d bytes after the end: %w", what, len(d.b), syscall.EPROTO)
	}
	return s, nil
}
