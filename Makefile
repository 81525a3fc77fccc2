# pybpfman: set-up, build of the BPF C sources, demo and tests.
# `make demo` and `make test` install everything they need first (idempotent).

PY        ?= .venv/bin/python
CLANG     ?= clang
BPFTOOL   ?= bpftool
BUILD     := build
ARCH      := x86
# usdt.bpf.h includes <linux/errno.h>, which needs the multiarch <asm/...> headers
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf/include -idirafter /usr/include/x86_64-linux-gnu -Wall -Wno-unused-function

EXAMPLE_SRC := $(wildcard bpf/examples/*.bpf.c)
TEST_SRC    := $(wildcard tests/bpf/*.bpf.c)
EXAMPLE_OBJ := $(patsubst bpf/examples/%.bpf.c,src/bpfman/data/%.bpf.o,$(EXAMPLE_SRC))
TEST_OBJ    := $(patsubst tests/bpf/%.bpf.c,$(BUILD)/tests/%.bpf.o,$(TEST_SRC))
# upstream bpfman v0.6.0's example and integration-test programs, unmodified (tests/bpf/upstream/README.md)
UPSTREAM_DIR := tests/bpf/upstream
UPSTREAM_SRC := $(wildcard $(UPSTREAM_DIR)/*.c $(UPSTREAM_DIR)/go-app-counter/*.c $(UPSTREAM_DIR)/integration/*.c)
UPSTREAM_OBJ := $(patsubst $(UPSTREAM_DIR)/%.c,$(BUILD)/tests/upstream/%.o,$(UPSTREAM_SRC))
UPSTREAM_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -I$(UPSTREAM_DIR)/include \
	-I/usr/include/$(shell $(CLANG) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu) -Wall
DISPATCH_SRC := $(wildcard bpf/dispatchers/*.bpf.c)
# the library guide's examples (docs/library.md): each script loads the object next to it
GUIDE_SRC   := $(wildcard examples/*.bpf.c)
GUIDE_OBJ   := $(patsubst %.bpf.c,%.bpf.o,$(GUIDE_SRC))
DISPATCH_OBJ := $(patsubst bpf/dispatchers/%.bpf.c,src/bpfman/data/%.bpf.o,$(DISPATCH_SRC))

.PHONY: all setup bpf proto demo test vmtest lint check clean

all: bpf

setup: .stamp-setup
.stamp-setup: scripts/setup.sh pyproject.toml
	bash scripts/setup.sh
	touch $@

$(BUILD)/vmlinux.h:
	mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

# shipped objects keep BTF but drop DWARF (llvm-strip -g)
src/bpfman/data/%.bpf.o: bpf/examples/%.bpf.c $(BUILD)/vmlinux.h $(wildcard bpf/include/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	llvm-strip -g $@.tmp -o $@ && rm -f $@.tmp

# the XDP/TC dispatchers ship the same way (bpfman.dispatch loads them)
src/bpfman/data/%.bpf.o: bpf/dispatchers/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	llvm-strip -g $@.tmp -o $@ && rm -f $@.tmp

$(BUILD)/tests/%.bpf.o: tests/bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard bpf/include/*.h)
	@mkdir -p $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

examples/%.bpf.o: examples/%.bpf.c $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/upstream/%.o: $(UPSTREAM_DIR)/%.c $(wildcard $(UPSTREAM_DIR)/*/*.h $(UPSTREAM_DIR)/include/*/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(UPSTREAM_CFLAGS) -c $< -o $@

bpf: $(EXAMPLE_OBJ) $(DISPATCH_OBJ) $(TEST_OBJ) $(UPSTREAM_OBJ) $(GUIDE_OBJ)
	@$(PY) -m compileall -q src  # byte-code on disk: the CLI starts faster (PYTHONDONTWRITEBYTECODE)

# the daemon's Python code (src/bpfman/server/{bpfman,csi}_pb2*) from proto/{bpfman,csi}/v1/*.proto;
# tests/test_grpc_proto.py fails when the committed code is not what this generates
proto: setup
	$(PY) proto/generate.py

demo: setup bpf
	$(PY) -m bpfman.demo

test: setup bpf
	$(PY) -m pytest -q -p no:cacheprovider tests

# the tests marked kernel_feature inside stock Debian kernels (6.1, 6.12) under QEMU: vm/README.md
vmtest: setup bpf
	bash vm/setup.sh
	$(PY) vm/run.py $(VMTEST_ARGS)

# lint needs only the virtualenv with the dev tools: no root, no apt, no mounts, no BPF build
VENV_PY ?= python3
.stamp-venv: pyproject.toml
	test -x .venv/bin/python || $(VENV_PY) -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

lint: .stamp-venv
	.venv/bin/ruff check src tests bench vm dist/image examples
	.venv/bin/lint-imports --no-cache
	.venv/bin/mypy
	.venv/bin/mypy --strict vm dist/image
	# the tests: strict too, except that test functions and fixtures need no annotations
	MYPYPATH=tests .venv/bin/mypy --explicit-package-bases --allow-untyped-defs \
		--allow-incomplete-defs --allow-untyped-calls tests
	.venv/bin/mypy --strict examples

check: lint test

clean:
	rm -rf $(BUILD) .stamp-setup .stamp-venv examples/*.bpf.o
