build/obj/src/ledger/audit.o: src/ledger/audit.c src/base/alloc.h \
 src/base/err.h src/ledger/state_int.h src/ledger/ledger.h \
 src/base/u128.h src/crypto/crypto.h src/ledger/table.h
src/base/alloc.h:
src/base/err.h:
src/ledger/state_int.h:
src/ledger/ledger.h:
src/base/u128.h:
src/crypto/crypto.h:
src/ledger/table.h:
