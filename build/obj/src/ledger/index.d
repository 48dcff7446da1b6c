build/obj/src/ledger/index.o: src/ledger/index.c src/ledger/index.h \
 src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h \
 src/base/assert.h src/base/bytes.h src/base/err.h
src/ledger/index.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
src/base/assert.h:
src/base/bytes.h:
src/base/err.h:
