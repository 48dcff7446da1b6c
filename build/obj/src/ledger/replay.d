build/obj/src/ledger/replay.o: src/ledger/replay.c src/ledger/replay.h \
 src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h \
 src/store/store.h src/base/err.h
src/ledger/replay.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
src/store/store.h:
src/base/err.h:
