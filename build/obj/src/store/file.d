build/obj/src/store/file.o: src/store/file.c src/base/alloc.h \
 src/base/err.h src/store/store.h src/crypto/crypto.h
src/base/alloc.h:
src/base/err.h:
src/store/store.h:
src/crypto/crypto.h:
