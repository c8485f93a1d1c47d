# Build, install and test. `make build` puts every command in bin/.
GO      ?= go
PREFIX  ?= /opt/alluxio
BINDIR  ?= /usr/local/bin
SBINDIR ?= /sbin
SYSTEMDDIR ?= /etc/systemd/system

CMDS    := alluxio alluxio-fuse
SCRIPTS := alluxio-start.sh alluxio-stop.sh mount.fuse.alluxio

.PHONY: build install uninstall test test-deps bench soak vet fmt clean local image image-check

build:
	@mkdir -p bin
	$(GO) build -o bin/alluxio ./cli/cmd/alluxio
	$(GO) build -o bin/alluxio-fuse ./cli/cmd/alluxio-fuse
	cp $(addprefix packaging/bin/,$(SCRIPTS)) bin/

# local builds and starts a master, a worker and a FUSE mount at
# /mnt/alluxio-fuse over ./underFSStorage, on embedded defaults.
local: build
	./bin/alluxio-start.sh local

install: build
	install -d $(PREFIX)/bin $(PREFIX)/conf $(PREFIX)/logs $(BINDIR) $(SBINDIR)
	install -m 0755 $(addprefix bin/,$(CMDS) $(SCRIPTS)) $(PREFIX)/bin/
	for f in conf/*.template; do install -m 0644 $$f $(PREFIX)/conf/; done
	for f in $(CMDS) alluxio-start.sh alluxio-stop.sh; do ln -sf $(PREFIX)/bin/$$f $(BINDIR)/$$f; done
	ln -sf $(PREFIX)/bin/mount.fuse.alluxio $(SBINDIR)/mount.fuse.alluxio
	install -d $(SYSTEMDDIR)
	for f in packaging/systemd/*; do sed 's|@PREFIX@|$(PREFIX)|g' "$$f" > "$(SYSTEMDDIR)/$$(basename "$$f")"; done

uninstall:
	rm -f $(addprefix $(BINDIR)/,$(CMDS) alluxio-start.sh alluxio-stop.sh) $(SBINDIR)/mount.fuse.alluxio
	rm -rf $(PREFIX)/bin
	rm -f $(SYSTEMDDIR)/alluxio-master.service $(SYSTEMDDIR)/alluxio-worker.service $(SYSTEMDDIR)/alluxio-fuse@.service "$(SYSTEMDDIR)/mnt-alluxio\\x2dfuse.mount"

# test installs what the tests need, then runs them all (unit, component
# and system tests with a real FUSE mount).
# The default root under-store (./underFSStorage) holds users' files, Go
# sources among them: it is not part of the build.
PKGS = $$($(GO) list ./... | grep -v /underFSStorage/)

test: test-deps
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

test-deps:
	./tests/install-deps.sh

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)

# image builds the container image (needs a Docker engine; see
# packaging/docker/Dockerfile and packaging/helm).
IMAGE ?= alluxio-go:latest
image:
	docker build -f packaging/docker/Dockerfile -t $(IMAGE) .

# image-check builds the same Dockerfile without a Docker engine (buildah,
# chroot isolation, local base images) and checks the image; as root, about
# 3.5 minutes cold. Not part of test.
image-check:
	./packaging/docker/check.sh

# bench is not part of test: it measures through a real mount and appends
# ratios to docs/benchmarks.md.
bench: build test-deps
	./tests/bench/run.sh

# soak runs the differential tester (mount vs. tmpfs) on random seeds.
SOAK_RUNS ?= 5
soak: build
	for i in $$(seq $(SOAK_RUNS)); do \
		$(GO) test -count=1 -timeout 60m ./tests/ -run TestDifferential -diff.seed=-1 -diff.ops=20000 -v || exit 1; \
	done

clean:
	rm -rf bin
