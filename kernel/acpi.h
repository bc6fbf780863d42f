// acpi.h: just enough ACPI to power a PC off (S5): the FADT's PM1a control port and the
// DSDT's \_S5 sleep type.
#pragma once
#include "rt.h"

// The loader's copy of the RSDP (multiboot2 tags; UEFI machines have no BIOS area to scan).
void acpi_set_rsdp(const void* rsdp, usize len);
void acpi_init();        // finds the tables; silent when there are none
void acpi_power_off();   // finds the tables, powers off; returns if ACPI is unavailable
