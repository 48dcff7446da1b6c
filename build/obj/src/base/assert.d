build/obj/src/base/assert.o: src/base/assert.c src/base/assert.h
src/base/assert.h:
