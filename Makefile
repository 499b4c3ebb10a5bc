# pvefs build. `make` builds build/pvefsd; `make check` installs what the tests
# need (apt), builds with ASan+UBSan and runs every test; `make bench` runs the
# benchmarks; `make run` mounts a single-node /pve in the foreground.

CC       ?= gcc
PKGS     := fuse3 sqlite3 json-c libvirt libvirt-qemu lxc libnl-route-3.0 libmnl
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS     := $(PKG_LIBS) -lrbd -lrados -lxxhash -lcpg -lquorum -lcmap -lpthread
SAN      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

CORE_SRC := $(wildcard cluster/*.c) $(wildcard fs/conf*.c) fs/buf.c
FS_SRC   := $(filter-out $(CORE_SRC),$(wildcard fs/*.c)) $(wildcard drivers/*.c)
DAEMON_SRC := $(CORE_SRC) $(FS_SRC) tools/pvefsd.c
# the storage backends' pure helpers (sizes, volume names) are unit-tested too
UNIT_SRC := $(CORE_SRC) $(wildcard drivers/stor*.c drivers/ceph*.c drivers/qemu_xml.c drivers/qemu_xml_util.c drivers/lxc_conf.c drivers/sdn_cfg.c) $(wildcard tests/unit/*.c)
HDRS     := $(wildcard */*.h tests/unit/*.h)

.PHONY: all check unit bench run deps fresh format lint clean durability

all: build/pvefsd

build/pvefsd: $(DAEMON_SRC) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(DAEMON_SRC) $(LIBS)

build/asan/pvefsd: $(DAEMON_SRC) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(SAN) $(PKG_CFLAGS) -o $@ $(DAEMON_SRC) $(LIBS)

build/asan/unit: $(UNIT_SRC) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(SAN) $(PKG_CFLAGS) -Ifs -Itests/unit -DPV_FIXTURES=\"tests/fixtures\" -o $@ $(UNIT_SRC) $(LIBS)

deps:
	@tools/install-deps.sh

unit: build/asan/unit
	build/asan/unit

check: deps
	@$(MAKE) --no-print-directory build/asan/pvefsd build/asan/unit build/pvefsd
	@tests/run.sh

# The long history checks (tests/cluster/test_history.py): 3 and 5 nodes, an hour each by
# default (HISTORY_SECONDS=600 for a shorter run).
durability: deps build/asan/pvefsd build/asan/unit
	@PVEFS_HISTORY_SECONDS=$(or $(HISTORY_SECONDS),3600) PVEFS_HISTORY_NODES=3 tests/run.sh -k test_history
	@PVEFS_HISTORY_SECONDS=$(or $(HISTORY_SECONDS),3600) PVEFS_HISTORY_NODES=5 tests/run.sh -k test_history

bench: deps build/pvefsd
	@tests/bench/run.sh

run: deps build/pvefsd
	@tools/pvefs-defaults $(or $(MNT),/pve) & \
	build/pvefsd -f --local $(if $(NODE),--node $(NODE)) $(if $(DATA),--data $(DATA)) $(or $(MNT),/pve)

# not part of check: proves `make check` and `make run` on a debootstrapped Debian 12 (long)
fresh:
	@tests/fresh/run.sh

format:
	clang-format -i $(wildcard */*.c */*.h tests/unit/*.c tests/unit/*.h)

lint:
	cppcheck --enable=warning,style,performance,portability --std=c11 -q --error-exitcode=1 \
		--inline-suppr --suppress=variableScope -D_GNU_SOURCE -I/usr/include/fuse3 --suppress=missingIncludeSystem \
		cluster fs drivers tools
	clang-tidy -quiet $(DAEMON_SRC) -- $(WARN) $(PKG_CFLAGS)

clean:
	rm -rf build
