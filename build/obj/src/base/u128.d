build/obj/src/base/u128.o: src/base/u128.c src/base/u128.h src/base/err.h
src/base/u128.h:
src/base/err.h:
