function mpc = t
%% comment
mpc.version = '2';
mpc.baseMVA = 10;
mpc.bus = [ %% kW
	1	3	0	0	0	0	1	1	0	12.66	1	1	1;
	2	1	100	60	0	0	1	1	0	12.66	1	1.1	0.9;
	3	1	90	40	0	0	1	1	0	12.66	1	1.1	0.9;
];
mpc.branch = [
	1	2	0.09	0.04	0	2	0	0	0	0	1	-360	360;
	2	3	0.49	0.25	0	0	0	0	0	0	1	-360	360;
	1	3	2	2	0	0	0	0	0	0	0	-360	360;
];
[PQ, PV, ...
  VA] = idx_bus;
mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3;
