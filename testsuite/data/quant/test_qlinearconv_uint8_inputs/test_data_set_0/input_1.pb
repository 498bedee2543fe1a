BxsJ
ף<