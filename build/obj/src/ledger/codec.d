build/obj/src/ledger/codec.o: src/ledger/codec.c src/base/bytes.h \
 src/ledger/ledger.h src/base/u128.h src/crypto/crypto.h
src/base/bytes.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
