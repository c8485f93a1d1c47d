package blockstore

import "container/list"

// maxFreshBytes caps the buffers of pages fetched ahead that the store
// keeps for the readers it fetched them for (see freshPage), over the whole
// store; below it the cap is twice the prefetch depth (Store.freshCap).
const maxFreshBytes = 256 << 20

// freshPage is the buffer of a page fetched ahead of a sequential reader,
// kept after the page was cached so that the reader, which comes for it
// soon, copies it from memory rather than reading it back from the tier:
// on a small machine that read costs as much CPU as the copy to the FUSE
// daemon. A page's bytes never change for its key, so the buffer stays
// right whatever happens to the cached page meanwhile. It is dropped when
// a read reaches the end of the page, or, oldest first, to stay within
// Store.freshCap, or when it has been kept for a whole tick of the mover
// (Config.ProbeInterval): a reader that stopped leaves no memory behind.
//
// pk and buf never change; the other fields are guarded by Store.indexMu.
type freshPage struct {
	pk      pageKey
	buf     *[]byte
	elem    *list.Element // in Store.freshQ; nil once dropped
	copying int           // readers copying from buf
	gen     uint64        // Store.freshGen when kept
}

// keepFreshLocked keeps buf, the bytes of page pk just fetched ahead, for
// the reader to come; it reports false (the caller keeps buf) when the
// page is kept already.
func (s *Store) keepFreshLocked(pk pageKey, buf *[]byte) bool {
	if s.fresh[pk] != nil || pk.n > s.freshCap {
		return false
	}
	for s.freshBytes+pk.n > s.freshCap {
		s.dropFreshLocked(s.freshQ.Front().Value.(*freshPage))
	}
	fp := &freshPage{pk: pk, buf: buf, gen: s.freshGen}
	fp.elem = s.freshQ.PushBack(fp)
	s.fresh[pk] = fp
	s.freshBytes += pk.n
	return true
}

// dropFreshLocked forgets fp; its buffer goes back to the pool once no
// reader copies from it.
func (s *Store) dropFreshLocked(fp *freshPage) {
	if fp.elem == nil {
		return
	}
	s.freshQ.Remove(fp.elem)
	fp.elem = nil
	delete(s.fresh, fp.pk)
	s.freshBytes -= fp.pk.n
	if fp.copying == 0 {
		s.bufs.Put(fp.buf)
	}
}

// takeFreshLocked returns the kept buffer of page pk for a reader to copy
// from, or nil; last says the read goes to the end of the page, which
// drops it. The reader calls doneFresh after copying.
func (s *Store) takeFreshLocked(pk pageKey, last bool) *freshPage {
	fp := s.fresh[pk]
	if fp == nil {
		return nil
	}
	fp.copying++
	if last {
		s.dropFreshLocked(fp)
	}
	return fp
}

// doneFresh ends a reader's copy from fp.
func (s *Store) doneFresh(fp *freshPage) {
	s.indexMu.Lock()
	fp.copying--
	put := fp.copying == 0 && fp.elem == nil
	s.indexMu.Unlock()
	if put {
		s.bufs.Put(fp.buf)
	}
}

// expireFresh forgets the pages kept since before the previous call; the
// mover calls it on each tick.
func (s *Store) expireFresh() {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for s.freshQ.Len() > 0 {
		fp := s.freshQ.Front().Value.(*freshPage)
		if fp.gen == s.freshGen {
			break
		}
		s.dropFreshLocked(fp)
	}
	s.freshGen++
}

// dropAllFreshLocked forgets every kept page (on Close).
func (s *Store) dropAllFreshLocked() {
	for s.freshQ.Len() > 0 {
		s.dropFreshLocked(s.freshQ.Front().Value.(*freshPage))
	}
}
