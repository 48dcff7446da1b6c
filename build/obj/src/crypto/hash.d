build/obj/src/crypto/hash.o: src/crypto/hash.c src/crypto/crypto.h \
 src/base/assert.h src/base/err.h
src/crypto/crypto.h:
src/base/assert.h:
src/base/err.h:
