package blockstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"syscall"
)

// castagnoli is the crc32c table: pages and log entries are checksummed
// with it (hardware-accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pageCRC is the checksum of a page's bytes.
func pageCRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// The page log of a backing file is "<backing name>.pages" next to it: a
// header, then fixed-size records appended as the file changes. It is never
// fsynced: a killed process loses none of its writes, and after a power loss
// the page checksums catch whatever the log got wrong.
//
// Header (little-endian), padded with zeros to a multiple of logRecLen:
//
//	0  magic "ALXPGLOG"
//	8  u32 format version (logVersion)
//	12 u32 header length, padding included
//	16 u32 page size
//	20 u32 flags (logPinned, logUserPinned, logWriting)
//	24 u64 FileKey.ID
//	32 i64 file size (0 while a Writer fills the file)
//	40 u32 fingerprint length n
//	44 n bytes FileKey.Fingerprint
//	44+n u32 crc32c of bytes [0, 44+n)
//
// Record (16 bytes, little-endian):
//
//	0  u8  type (recPage, recPunch, recFlags, recSize)
//	1  u8  0
//	2  u16 check: low 16 bits of crc32c of bytes 0-1 and 4-15
//	4  u32 page crc32c (recPage), else 0
//	8  u64 page index (recPage, recPunch), flags (recFlags) or size (recSize)
//
// Replay stops at the first record that does not check out (a torn tail).
const (
	logMagic   = "ALXPGLOG"
	logVersion = 1
	logSuffix  = ".pages"
	logRecLen  = 16
	logFixed   = 44 // header bytes before the fingerprint
	maxFPLen   = 1 << 16

	logPinned     = 1 << 0 // created pinned (Create(key, true)) and not unpinned
	logUserPinned = 1 << 1 // SetPinned(id, true)
	logWriting    = 1 << 2 // created by a Writer; cleared by a recSize record

	recPage  = 1 // a page became present, with its crc32c
	recPunch = 2 // a page was punched out (tombstone)
	recFlags = 3 // the pin flags changed
	recSize  = 4 // a Writer closed the file at this size
)

// logHeader is the decoded header of a page log.
type logHeader struct {
	key      FileKey
	pageSize int64
	flags    uint32
	size     int64
}

// logRecord is one decoded record of a page log.
type logRecord struct {
	typ   uint8
	crc   uint32
	value uint64
}

func (h logHeader) encode() []byte {
	n := logFixed + len(h.key.Fingerprint) + 4
	total := (n + logRecLen - 1) / logRecLen * logRecLen
	b := make([]byte, total)
	copy(b, logMagic)
	binary.LittleEndian.PutUint32(b[8:], logVersion)
	binary.LittleEndian.PutUint32(b[12:], uint32(total))
	binary.LittleEndian.PutUint32(b[16:], uint32(h.pageSize))
	binary.LittleEndian.PutUint32(b[20:], h.flags)
	binary.LittleEndian.PutUint64(b[24:], h.key.ID)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.size))
	binary.LittleEndian.PutUint32(b[40:], uint32(len(h.key.Fingerprint)))
	copy(b[logFixed:], h.key.Fingerprint)
	binary.LittleEndian.PutUint32(b[n-4:], crc32.Checksum(b[:n-4], castagnoli))
	return b
}

func (r logRecord) encodeTo(b []byte) {
	b[0], b[1] = r.typ, 0
	binary.LittleEndian.PutUint32(b[4:], r.crc)
	binary.LittleEndian.PutUint64(b[8:], r.value)
	binary.LittleEndian.PutUint16(b[2:], recCheck(b))
}

func recCheck(b []byte) uint16 {
	c := crc32.Update(0, castagnoli, b[0:2])
	return uint16(crc32.Update(c, castagnoli, b[4:logRecLen]))
}

func encodeRecords(recs []logRecord) []byte {
	b := make([]byte, len(recs)*logRecLen)
	for i, r := range recs {
		r.encodeTo(b[i*logRecLen:])
	}
	return b
}

// errBadLog marks a page log that cannot be used.
var errBadLog = fmt.Errorf("blockstore: page log unreadable: %w", syscall.EBADMSG)

// parseLog decodes a whole page log. Records after the first bad one are
// ignored; a bad header is errBadLog.
func parseLog(b []byte) (logHeader, []logRecord, error) {
	var h logHeader
	if len(b) < logFixed+4 || string(b[:8]) != logMagic {
		return h, nil, fmt.Errorf("%w: no header", errBadLog)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != logVersion {
		return h, nil, fmt.Errorf("%w: format version %d, want %d", errBadLog, v, logVersion)
	}
	total := int(binary.LittleEndian.Uint32(b[12:]))
	fpLen := int(binary.LittleEndian.Uint32(b[40:]))
	n := logFixed + fpLen + 4
	if fpLen > maxFPLen || total < n || total > len(b) || total%logRecLen != 0 {
		return h, nil, fmt.Errorf("%w: bad header length", errBadLog)
	}
	if binary.LittleEndian.Uint32(b[n-4:]) != crc32.Checksum(b[:n-4], castagnoli) {
		return h, nil, fmt.Errorf("%w: header checksum mismatch", errBadLog)
	}
	h.pageSize = int64(binary.LittleEndian.Uint32(b[16:]))
	h.flags = binary.LittleEndian.Uint32(b[20:])
	h.key.ID = binary.LittleEndian.Uint64(b[24:])
	h.size = int64(binary.LittleEndian.Uint64(b[32:]))
	h.key.Fingerprint = string(b[logFixed : logFixed+fpLen])
	var recs []logRecord
	for off := total; off+logRecLen <= len(b); off += logRecLen {
		r := b[off : off+logRecLen]
		if r[0] < recPage || r[0] > recSize || r[1] != 0 || binary.LittleEndian.Uint16(r[2:]) != recCheck(r) {
			break
		}
		recs = append(recs, logRecord{typ: r[0], crc: binary.LittleEndian.Uint32(r[4:]), value: binary.LittleEndian.Uint64(r[8:])})
	}
	return h, recs, nil
}

// pageLog is the page log of one backing file. It holds no descriptor:
// each append opens the log, writes and closes it, so that a cached file
// costs the worker one descriptor (its backing file), not two. Appends are
// rare next to the pages they record (one per 1 MiB page cached, and per
// change of state), so the open is a small price.
type pageLog struct {
	// mu guards path, records, closed and unlinked, and serialises appends
	// with compaction and unlinking. It is held across this log's small
	// writes only; it is taken before Store.indexMu, never while holding it.
	mu       sync.Mutex
	path     string
	records  int // records since the log was last (re)written
	closed   bool
	unlinked bool // removed from its dir: never rewritten (the path may be reused)
}

// writeLogFile writes a complete page log to path via a temp file and a
// rename, and returns it ready for appending.
func writeLogFile(path string, h logHeader, recs []logRecord) (*pageLog, error) {
	tmp := path + ".tmp"
	b := append(h.encode(), encodeRecords(recs)...)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return &pageLog{path: path, records: len(recs)}, nil
}

// readLogFile reads and decodes the page log at path.
func readLogFile(path string) (logHeader, []logRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return logHeader{}, nil, err
	}
	defer f.Close()
	// A log of a multi-terabyte file stays well under this.
	b, err := io.ReadAll(io.LimitReader(f, 1<<30))
	if err != nil {
		return logHeader{}, nil, err
	}
	return parseLog(b)
}

// appendLocked writes recs at the end of the log; l.mu is held.
func (l *pageLog) appendLocked(recs []logRecord) error {
	if l.closed || l.unlinked {
		return nil
	}
	fd, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fd.Write(encodeRecords(recs))
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	l.records += len(recs)
	return nil
}

// close ends the log's use; later appends are dropped.
func (l *pageLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// logAppend appends recs to f's page log, and rewrites the log from the
// index when it has grown past a few times the live record count. A failing
// write marks the dir failed when the error says so, and is returned; the
// log then misses records, so recovery after a restart drops the pages they
// were for (a pinned writer fails for it: those may be the only copy).
func (s *Store) logAppend(f *file, recs ...logRecord) error {
	if len(recs) == 0 {
		return nil
	}
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	return s.logAppendLocked(f, recs...)
}

// logPins records f's pin flags in its page log as they are when the
// record is written, with the log's lock held: of two pin changes at once
// (Unpin and SetPinned, say), whichever records last records both, where
// flags worked out before the lock could land in the other order and the
// log end with the earlier state, which a restart would take.
func (s *Store) logPins(f *file) {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	s.indexMu.Lock()
	flags := f.logFlags()
	s.indexMu.Unlock()
	s.logAppendLocked(f, logRecord{typ: recFlags, value: uint64(flags)})
}

// logAppendLocked is logAppend with f.log.mu held.
func (s *Store) logAppendLocked(f *file, recs ...logRecord) error {
	l := f.log
	if err := l.appendLocked(recs); err != nil {
		s.logWriteFailed(f, err)
		return err
	}
	s.indexMu.Lock()
	live := f.npresent + 2
	gone := f.removed
	s.indexMu.Unlock()
	if !gone && l.records > 64 && l.records > 4*live {
		s.compactLocked(f)
	}
	return nil
}

// compactLocked rewrites f's page log from the index (via a temp file and a
// rename); f.log.mu is held.
func (s *Store) compactLocked(f *file) {
	l := f.log
	if l.closed || l.unlinked {
		return
	}
	s.indexMu.Lock()
	h, recs := s.logStateLocked(f)
	s.indexMu.Unlock()
	nl, err := writeLogFile(l.path, h, recs)
	if err != nil {
		s.logWriteFailed(f, err)
		return
	}
	l.records = nl.records
}

// logStateLocked is the header and records that describe f as it is now.
func (s *Store) logStateLocked(f *file) (logHeader, []logRecord) {
	h := logHeader{key: f.key, pageSize: s.pageSize, size: f.size, flags: f.logFlags()}
	if f.writing || f.partial {
		h.flags |= logWriting
	}
	recs := make([]logRecord, 0, f.npresent)
	f.eachPresent(func(idx int64) {
		recs = append(recs, logRecord{typ: recPage, crc: f.crc(idx), value: uint64(idx)})
	})
	return h, recs
}

func (s *Store) logWriteFailed(f *file, err error) {
	s.noteWriteError(f.dir, err)
	s.warnOnce(&f.dir.warnedWrite, "writing a page log failed; its file may not be recovered after a restart",
		"tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "err", err)
}
