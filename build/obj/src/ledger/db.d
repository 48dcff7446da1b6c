build/obj/src/ledger/db.o: src/ledger/db.c src/base/alloc.h \
 src/base/assert.h src/base/err.h src/base/log.h src/ledger/index.h \
 src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h \
 src/ledger/replay.h src/store/store.h
src/base/alloc.h:
src/base/assert.h:
src/base/err.h:
src/base/log.h:
src/ledger/index.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
src/ledger/replay.h:
src/store/store.h:
