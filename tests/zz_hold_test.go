package tests

import (
	"os"
	"testing"
	"time"
)

func TestZZHold(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	os.WriteFile("/tmp/zz_mnt", []byte(c.mnt+"\n"+c.home+"\n"+c.ufs), 0o644)
	for i := 0; i < 1800; i++ {
		if _, err := os.Stat("/tmp/zz_stop"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}
