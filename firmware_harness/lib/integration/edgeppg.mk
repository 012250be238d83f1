# Make fragment: include path/to/firmware/edgeppg.mk, then
#   SRCS += $(EDGEPPG_SRCS)   CFLAGS += $(EDGEPPG_CFLAGS)   LDLIBS += $(EDGEPPG_LDLIBS)
EDGEPPG_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
EDGEPPG_SRCS := $(wildcard $(EDGEPPG_DIR)src/*.c)
EDGEPPG_CFLAGS := -I$(EDGEPPG_DIR)src -ffp-contract=off
EDGEPPG_LDLIBS := -lm
