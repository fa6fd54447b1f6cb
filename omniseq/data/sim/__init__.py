"""The simulators: the omnichannel shopper simulator (PARSRec Appendix A based) and the in-store journey simulator."""
