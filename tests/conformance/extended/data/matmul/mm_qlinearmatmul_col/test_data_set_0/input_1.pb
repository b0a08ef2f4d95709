BasJ
ף<