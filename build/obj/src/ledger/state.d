build/obj/src/ledger/state.o: src/ledger/state.c src/base/alloc.h \
 src/base/assert.h src/base/err.h src/ledger/state_int.h \
 src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h \
 src/ledger/table.h
src/base/alloc.h:
src/base/assert.h:
src/base/err.h:
src/ledger/state_int.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
src/ledger/table.h:
