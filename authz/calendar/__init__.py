"""The working-day calendar: national holidays and make-up working days, plus loaded arrangements."""
