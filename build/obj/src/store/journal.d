build/obj/src/store/journal.o: src/store/journal.c src/base/alloc.h \
 src/base/assert.h src/base/bytes.h src/base/err.h src/store/store.h \
 src/crypto/crypto.h
src/base/alloc.h:
src/base/assert.h:
src/base/bytes.h:
src/base/err.h:
src/store/store.h:
src/crypto/crypto.h:
