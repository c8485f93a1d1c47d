package wire

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/alluxio-go/alluxio/meta"
)

// BinaryAnswerField is the JSON field (true) by which a client says that
// it takes a StampedInfo or Stamped answer in binary (AppendStampedInfo,
// AppendStamped) in the data section: a FUSE lookup, create or unlink
// decodes it in a fraction of the time of its JSON. A master that does
// not know the field answers JSON, which the client takes as well.
const BinaryAnswerField = "binAnswer"

// BinaryExtField is the JSON field (true) by which a client that asks for
// a binary answer says that it also reads a status with a second flags
// byte (infoFormatExt). A master that does not know the field answers
// infoFormat, whose statuses lack the second byte's flags.
const BinaryExtField = "binExt"

// infoFormat is the first byte of a binary status; infoFormatExt that of
// one with a second flags byte (extLoaded) after the first.
const (
	infoFormat    = 1
	infoFormatExt = 3
)

// Flags of a binary status's second byte.
const extLoaded = 1

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

// SetData takes the response's data section: the answer in binary.
func (r *StampedInfo) SetData(b []byte) { r.data = b }

// TakeBinary decodes the binary answer SetData took, if any, into r;
// what names the call's subject for an error.
func (r *StampedInfo) TakeBinary(what string) error {
	return takeBinary(r, r.data, what, DecodeStampedInfo)
}

// takeBinary decodes data, when there is any, into r.
func takeBinary[T any](r *T, data []byte, what string, decode func([]byte, string) (T, error)) error {
	if data == nil {
		return nil
	}
	v, err := decode(data, what)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// AppendStampedInfo appends s in binary to b: the format byte, a flags
// byte, with ext a second flags byte, the stamp when there is one (epoch,
// before, after), then the status (appendInfo). Without ext, Loaded is
// left out.
func AppendStampedInfo(b []byte, s StampedInfo, ext bool) []byte {
	flags := infoFlags(&s.FileInfo)
	if s.Missing {
		flags |= infoMissing
	}
	if s.NS != nil {
		flags |= infoStamped
	}
	if ext {
		var more byte
		if s.Loaded {
			more |= extLoaded
		}
		b = append(b, infoFormatExt, flags, more)
	} else {
		b = append(b, infoFormat, flags)
	}
	return appendInfo(appendStamp(b, s.NS), &s.FileInfo)
}

// infoFlags returns the flags byte of fi's bools.
func infoFlags(fi *meta.FileInfo) byte {
	var flags byte
	for i, set := range []bool{fi.IsDir, fi.IsSymlink, fi.Completed, fi.Persisted, fi.Pinned, fi.HasXattrs} {
		if set {
			flags |= 1 << i
		}
	}
	return flags
}

// appendStamp appends ns, when there is one: epoch, before, after.
func appendStamp(b []byte, ns *Stamp) []byte {
	if ns == nil {
		return b
	}
	b = binary.AppendUvarint(b, ns.Epoch)
	b = binary.AppendUvarint(b, ns.Before)
	return binary.AppendUvarint(b, ns.After)
}

// appendInfo appends the numbers and strings of fi (its flags go in the
// flags byte before it) in the order of meta.FileInfo's fields. Numbers
// are varints, strings a length and their bytes.
func appendInfo(b []byte, fi *meta.FileInfo) []byte {
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
	if len(b) < 2 || b[0] != infoFormat && b[0] != infoFormatExt {
		return s, fmt.Errorf("binary status from %s: not of format %d or %d: %w", what, infoFormat, infoFormatExt, syscall.EPROTO)
	}
	flags := b[1]
	d := briefDecoder{b: b[2:]}
	if b[0] == infoFormatExt {
		more := d.byte()
		if more&^extLoaded != 0 && d.err == nil {
			d.err = fmt.Errorf("unknown flags %#x", more)
		}
		s.Loaded = more&extLoaded != 0
	}
	s.Missing = flags&infoMissing != 0
	if flags&infoStamped != 0 {
		s.NS = d.stamp()
	}
	d.info(&s.FileInfo, flags)
	if err := d.end(); err != nil {
		return StampedInfo{}, fmt.Errorf("binary status from %s: %v: %w", what, err, syscall.EPROTO)
	}
	return s, nil
}

// stamp reads a stamp (appendStamp).
func (d *briefDecoder) stamp() *Stamp {
	return &Stamp{Epoch: d.uvarint(), Before: d.uvarint(), After: d.uvarint()}
}

// info reads a status (appendInfo) whose flags byte was flags.
func (d *briefDecoder) info(fi *meta.FileInfo, flags byte) {
	fi.IsDir, fi.IsSymlink = flags&infoDir != 0, flags&infoSymlink != 0
	fi.Completed, fi.Persisted = flags&infoCompleted != 0, flags&infoPersisted != 0
	fi.Pinned, fi.HasXattrs = flags&infoPinned != 0, flags&infoXattrs != 0
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
}

// end reports the first failure, or bytes left after the last field.
func (d *briefDecoder) end() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes after the end", len(d.b))
	}
	return nil
}

// SetData takes the response's data section: the answer in binary.
func (r *Stamped) SetData(b []byte) { r.data = b }

// TakeBinary decodes the binary answer SetData took, if any, into r;
// what names the call's subject for an error.
func (r *Stamped) TakeBinary(what string) error {
	return takeBinary(r, r.data, what, DecodeStamped)
}

// stampedFormat is the first byte of a binary Stamped.
const stampedFormat = 2

// AppendStamped appends s in binary to b: the format byte, 1 or 0 for
// whether a stamp follows, the stamp, the number of statuses, then each
// as its flags byte and appendInfo (so without Loaded).
func AppendStamped(b []byte, s Stamped) []byte {
	b = append(b, stampedFormat, 0)
	if s.NS != nil {
		b[len(b)-1] = 1
		b = appendStamp(b, s.NS)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Infos)))
	for i := range s.Infos {
		b = appendInfo(append(b, infoFlags(&s.Infos[i])), &s.Infos[i])
	}
	return b
}

// DecodeStamped reads a binary Stamped (AppendStamped); what names the
// call's subject. An answer cut short, of another format or with bytes
// after its end is an EPROTO error.
func DecodeStamped(b []byte, what string) (Stamped, error) {
	var s Stamped
	if len(b) < 2 || b[0] != stampedFormat || b[1] > 1 {
		return s, fmt.Errorf("binary answer from %s: not of format %d: %w", what, stampedFormat, syscall.EPROTO)
	}
	d := briefDecoder{b: b[2:]}
	if b[1] == 1 {
		s.NS = d.stamp()
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%d statuses in %d bytes", n, len(d.b))
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var fi meta.FileInfo
		d.info(&fi, d.byte())
		s.Infos = append(s.Infos, fi)
	}
	if err := d.end(); err != nil {
		return Stamped{}, fmt.Errorf("binary answer from %s: %v: %w", what, err, syscall.EPROTO)
	}
	return s, nil
}
