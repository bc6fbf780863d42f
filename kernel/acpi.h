// acpi.h: just enough ACPI to power a PC off (S5): the FADT's PM1a control port and the
// DSDT's \_S5 sleep type.
#pragma once
#include "rt.h"

void acpi_init();        // finds the tables; silent when there are none
void acpi_power_off();   // finds the tables, powers off; returns if ACPI is unavailable
