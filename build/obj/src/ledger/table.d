build/obj/src/ledger/table.o: src/ledger/table.c src/ledger/table.h \
 src/base/u128.h src/base/alloc.h src/base/assert.h src/base/err.h
src/ledger/table.h:
src/base/u128.h:
src/base/alloc.h:
src/base/assert.h:
src/base/err.h:
