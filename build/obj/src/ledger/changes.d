build/obj/src/ledger/changes.o: src/ledger/changes.c src/base/alloc.h \
 src/base/err.h src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h
src/base/alloc.h:
src/base/err.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
