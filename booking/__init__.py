"""venueshare: a booking engine for shared community venues."""
