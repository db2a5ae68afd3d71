"""The one daily partitions definition every play-date partitioned asset and job shares.

It starts in 2002, when Last.fm began, so real exports (the 1K-users set reaches back to 2005) fit too.
"""

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2002-01-01", timezone="UTC")
